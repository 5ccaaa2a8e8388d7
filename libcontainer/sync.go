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
	Type   string      `json:"type"`
	Pid    int         `json:"pid,omitempty"`
	Msg    string      `json:"msg,omitempty"`
	Config *initConfig `json:"config,omitempty"`
	Exec   *execConfig `json:"exec,omitempty"`
	// State is the container's state JSON, for the hooks the init runs.
	State json.RawMessage `json:"state,omitempty"`
}

// Message types.
const (
	msgUserns     = "userns"      // init → kan: write my id maps
	msgUsernsDone = "userns-done" // kan → init
	msgPid        = "pid"         // init → kan: this pid runs the container
	msgConfig     = "config"      // kan → init: what to build
	msgExec       = "exec"        // kan → exec stage: the process to become
	msgHooks      = "hooks"       // init → kan: run prestart and createRuntime hooks now
	msgHooksDone  = "hooks-done"  // kan → init, with the state for createContainer
	msgMountFds   = "mount-fds"   // init → kan: send the idmapped mounts (then sent as SCM_RIGHTS)
	msgReady      = "ready"       // init → kan: created, waiting for start
	msgError      = "error"       // init → kan: failed, with the reason
)

type syncConn struct {
	f *os.File
	r *bufio.Reader
}

func newSyncConn(f *os.File) *syncConn {
	return &syncConn{f: f, r: bufio.NewReaderSize(f, 64<<10)}
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
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return m, io.EOF
		}
		return m, err
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("bad sync message %q: %w", line, err)
	}
	return m, nil
}

func (s *syncConn) Close() error { return s.f.Close() }

// sendFiles passes open files to the other side, with one byte of data.
// Files go only in answer to a request, when the other side reads nothing
// but them, so that its buffered reader cannot swallow them.
func (s *syncConn) sendFiles(files []*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	return unix.Sendmsg(int(s.f.Fd()), []byte{0}, unix.UnixRights(fds...), nil, 0)
}

// recvFiles receives n files sent by sendFiles.
func (s *syncConn) recvFiles(n int) ([]*os.File, error) {
	if s.r.Buffered() > 0 {
		return nil, errors.New("sync: data before the files")
	}
	oob := make([]byte, unix.CmsgSpace(4*n))
	_, oobn, _, _, err := unix.Recvmsg(int(s.f.Fd()), make([]byte, 1), oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sync: receive files: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("sync: no files received (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "received")
	}
	if len(files) != n {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("sync: got %d files, want %d", len(files), n)
	}
	return files, nil
}
