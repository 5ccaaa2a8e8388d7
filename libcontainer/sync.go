package libcontainer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// message is one line of the sync protocol between kan and `kan init`. The
// nsenter stage speaks it too (in C), which is why it is plain JSON lines.
type message struct {
	Type string `json:"type"`
	Pid  int    `json:"pid,omitempty"`
	Msg  string `json:"msg,omitempty"`
	// Errno, with an error from the C stages: the system call's error,
	// which recv words as Go does and appends to Msg.
	Errno int `json:"errno,omitempty"`
	// Config is an initConfig. Kept raw here, it is decoded only by the
	// init: decoding a message would otherwise build encoding/json's
	// tables for every type of the config, in kan too, for each
	// one-word reply it reads.
	Config json.RawMessage `json:"config,omitempty"`
	// State is the container's state JSON, for the hooks the init runs.
	State json.RawMessage `json:"state,omitempty"`
}

// The protocol between kan and the process it starts (startInit), drawn
// once. Environment first (nsenter.go's constants), then the sync socket
// (childFds.Sync): JSON lines both ways, binary plans and requests kan →
// child, fds with SCM_RIGHTS only when the reader has asked for them.
//
//	kan (create / exec)                      child (kan init)
//	───────────────────                      ────────────────
//	env _KAN_SYNC, _KAN_NS_JOIN, _KAN_NS_NEW,
//	    _KAN_TIME_OFFSETS, _KAN_STAGE,
//	    _KAN_SIGMASK (sigmask.go)      ──▶   nsenter constructor (C)
//	                                   ◀──   {"type":"userns"}          a new user namespace:
//	write uid_map, gid_map             ──▶   {"type":"userns-done"}     the maps, then the rest
//	                                   ◀──   {"type":"pid","pid":N}     N runs the container
//
//	the C init (_KAN_STAGE=init, initstage.c):
//	plan (ExecPlan.Marshal)            ──▶
//	request KAN_OP_MOUNT_PROC + fd     ──▶   mounts a procfs on it      kan builds the rootfs
//	                                   ◀──   {"type":"ok"}              from a thread of its own
//	request KAN_OP_TERMINAL            ──▶   pty, /dev/console
//	                                   ◀──   {"type":"ok"}
//	request KAN_OP_RUN                 ──▶   the applier (kan_become)
//
//	the Go init (no stage, init.go):
//	{"type":"config","config":{…,plan}}──▶
//	                                   ◀──   {"type":"mount-fds"}       mounts only kan can make
//	1 byte + fds                       ──▶
//	                                   ◀──   {"type":"hooks"}           rootfs built
//	prestart, createRuntime hooks      ──▶   {"type":"hooks-done","state":…}
//	                                         createContainer, pivot_root, the applier
//
//	kan exec (_KAN_STAGE=exec, laststage.c):
//	plan (ExecPlan.Marshal)            ──▶   the applier
//
//	any of the three, with SCMP_ACT_NOTIFY:
//	                                   ◀──   {"type":"seccomp"}
//	                                   ──▶   {"type":"seccomp-send"}
//	                                   ◀──   1 byte + the listener fd
//	fd and state to the agent          ──▶   {"type":"seccomp-done"}
//
//	the inits:                         ◀──   {"type":"ready"}           created; the socket closes
//	kan exec:                          ◀──   EOF (close on exec)        the program runs
//	failure, at any step:              ◀──   {"type":"error","msg":…,"errno":N}
//
//	kan start ──▶ exec.fifo (a byte): the init goes on; exec.done: EOF when
//	the program runs (close on exec), or why it failed ("msg", or
//	"msg\0errno" from C), for start to report.

// Message types.
const (
	msgUserns      = "userns"       // init → kan: write my id maps
	msgUsernsDone  = "userns-done"  // kan → init
	msgPid         = "pid"          // init → kan: this pid runs the container
	msgConfig      = "config"       // kan → init: what to build
	msgHooks       = "hooks"        // init → kan: run prestart and createRuntime hooks now
	msgHooksDone   = "hooks-done"   // kan → init, with the state for createContainer
	msgMountFds    = "mount-fds"    // init → kan: send the mounts kan makes (rootfs.FromHost), as SCM_RIGHTS
	msgSeccomp     = "seccomp"      // applier → kan: I have a seccomp listener fd (SCMP_ACT_NOTIFY)
	msgSeccompSend = "seccomp-send" // kan → applier: send it (one byte and the fd, SCM_RIGHTS)
	msgSeccompDone = "seccomp-done" // kan → applier: the agent has it, go on
	msgReady       = "ready"        // init → kan: created, waiting for start
	msgOK          = "ok"           // init stage → kan: request done
	msgError       = "error"        // init → kan: failed, with the reason
)

type syncConn struct {
	f *os.File
	r *bufio.Reader
}

func newSyncConn(f *os.File) *syncConn {
	return &syncConn{f: f, r: bufio.NewReaderSize(f, 4<<10)}
}

func (s *syncConn) send(m message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = s.f.Write(append(data, '\n'))
	return err
}

// recv reads the next message; io.EOF means the other side is gone.
func (s *syncConn) recv() (message, error) {
	var m message
	line, err := s.r.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			// Not a clean end: a message was cut (never to be taken
			// for the exec's close on success).
			return m, fmt.Errorf("truncated sync message %q: %w", line, io.ErrUnexpectedEOF)
		}
		return m, err
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("bad sync message %q: %w", line, err)
	}
	if m.Errno != 0 {
		m.Msg += ": " + unix.Errno(m.Errno).Error()
	}
	return m, nil
}

func (s *syncConn) Close() error { return s.f.Close() }

// sendFiles passes open files to the other side, each batch of at most
// scmMaxFd with one byte of data. Files go only in answer to a request,
// when the other side reads nothing but them, so that its buffered reader
// cannot swallow them.
func (s *syncConn) sendFiles(files []*os.File) error {
	for len(files) > 0 {
		n := min(len(files), scmMaxFd)
		fds := make([]int, n)
		for i, f := range files[:n] {
			fds[i] = int(f.Fd())
		}
		if err := unix.Sendmsg(int(s.f.Fd()), []byte{0}, unix.UnixRights(fds...), nil, 0); err != nil {
			return err
		}
		files = files[n:]
	}
	return nil
}

// scmMaxFd is SCM_MAX_FD, the most fds one message carries.
const scmMaxFd = 253

// recvFiles receives n files sent by sendFiles.
func (s *syncConn) recvFiles(n int) ([]*os.File, error) {
	if s.r.Buffered() > 0 {
		return nil, errors.New("sync: data before the files")
	}
	var files []*os.File
	fail := func(err error) ([]*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	for len(files) < n {
		want := min(n-len(files), scmMaxFd)
		oob := make([]byte, unix.CmsgSpace(4*want))
		_, oobn, _, _, err := unix.Recvmsg(int(s.f.Fd()), make([]byte, 1), oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil {
			return fail(fmt.Errorf("sync: receive files: %w", err))
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return fail(fmt.Errorf("sync: no files received (%v)", err))
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil {
			return fail(err)
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "received"))
		}
		if len(fds) != want {
			return fail(fmt.Errorf("sync: got %d files, want %d", len(files), n))
		}
	}
	return files, nil
}
