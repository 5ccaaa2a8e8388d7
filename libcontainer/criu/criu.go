// Package criu drives CRIU (criu(8), checkpoint/restore in userspace)
// through its RPC interface, as runc does: kan starts `criu swrk 3` with
// one end of a SOCK_SEQPACKET pair as fd 3, sends one request (a
// protobuf message, encoded here: rpc.go), answers the notifications
// criu sends on the way (the moments kan has work to do: hooks, the
// restored pid, a terminal's new master) and reads the final response.
//
// go-criu (the library runc uses) does the same exchange, but its Criu
// type cannot pass criu extra fds (namespaces to inherit), start it in a
// cgroup, nor receive the fd that comes with the orphan-pts-master
// notification, and its generated rpc package registers protobuf
// descriptors at the start of every kan process, checkpoint or not
// (0.3 ms of init, 1.6 MB of binary: docs/performance.md). The tests
// check this package's encoding against go-criu's.
package criu

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Binary is the name of the program looked up in PATH.
const Binary = "criu"

// Find returns the path of criu, or an error that says checkpoint and
// restore need it.
func Find() (string, error) {
	p, err := exec.LookPath(Binary)
	if err != nil {
		return "", fmt.Errorf("checkpoint and restore need criu (https://criu.org), which is not installed here: %w", err)
	}
	return p, nil
}

// Request is one exchange with criu.
type Request struct {
	Type ReqType
	Opts *Opts
	// Stdio, when set, are criu's stdin, stdout and stderr: a restored
	// process whose stdio were pipes inherits them from there.
	Stdio [3]*os.File
	// Extra are passed to criu from fd 4 on (after the RPC socket, fd
	// 3), for opts.InheritFd.
	Extra []*os.File
	// CgroupFd, when >= 0, is a cgroup directory criu is started in
	// (clone3's CLONE_INTO_CGROUP): on restore, the cgroup the restored
	// processes join.
	CgroupFd int
	// Notify, when set, is called for each notification criu sends
	// (script is its name: "setup-namespaces", "post-restore", ...;
	// pid the process it is about; fd, the file that came with it, for
	// "orphan-pts-master"). An error makes criu abort.
	Notify func(script string, pid int, fd *os.File) error
}

// FirstExtraFd is the number criu sees Request.Extra[0] as.
const FirstExtraFd = 4

// Run starts criu, makes the exchange and waits for criu to exit. The
// error of a failed operation quotes criu's own message.
func Run(r *Request) error {
	bin, err := Find()
	if err != nil {
		return err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("criu: socket pair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "criu-client"), os.NewFile(uintptr(fds[1]), "criu-server")
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return fmt.Errorf("criu: %w", err)
	}
	uc := conn.(*net.UnixConn)
	defer uc.Close()

	cmd := exec.Command(bin, "swrk", "3")
	cmd.ExtraFiles = append([]*os.File{theirs}, r.Extra...)
	if r.Stdio[0] != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = r.Stdio[0], r.Stdio[1], r.Stdio[2]
	}
	if r.CgroupFd >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: r.CgroupFd}
	}
	err = cmd.Start()
	theirs.Close() // criu has it: if criu dies, reads here end
	if err != nil {
		return fmt.Errorf("criu: start %s swrk: %w", bin, err)
	}
	// A restored process (criu's sibling, kan's child) must not be
	// waited for by exec.Cmd: only criu's own process is.
	proc := cmd.Process
	err = exchange(uc, r)
	uc.CloseWrite()
	st, werr := proc.Wait()
	if err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("criu: %w", werr)
	}
	// After a pre-dump, criu waits for the next request and exits
	// non-zero when the socket closes instead: the pre-dump has
	// succeeded nonetheless (it said so).
	if !st.Success() && r.Type != ReqPreDump {
		return fmt.Errorf("criu: %s", st)
	}
	return nil
}

func exchange(uc *net.UnixConn, r *Request) error {
	req := &reqMsg{Type: r.Type, Opts: r.Opts}
	if r.Notify != nil && r.Opts != nil {
		r.Opts.NotifyScripts = true
	}
	buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4*4))
	for {
		if _, err := uc.Write(req.marshal()); err != nil {
			return fmt.Errorf("criu: send the request: %w", err)
		}
		n, oobn, _, _, err := uc.ReadMsgUnix(buf, oob)
		if err != nil {
			return fmt.Errorf("criu: read its answer: %w", err)
		}
		if n == 0 {
			return errors.New("criu exited without an answer")
		}
		var resp respMsg
		if err := resp.unmarshal(buf[:n]); err != nil {
			return fmt.Errorf("criu: decode its answer: %w", err)
		}
		fd, err := receivedFile(oob[:oobn])
		if err != nil {
			return err
		}
		if !resp.Success {
			if fd != nil {
				fd.Close()
			}
			msg := resp.CrErrmsg
			if msg == "" {
				msg = "see its log"
			}
			if e := resp.CrErrno; e != 0 {
				return fmt.Errorf("criu %s failed: %s (%w)", resp.Type, msg, unix.Errno(e))
			}
			return fmt.Errorf("criu %s failed: %s", resp.Type, msg)
		}
		if resp.Type != ReqNotify {
			if fd != nil {
				fd.Close()
			}
			if resp.Type != r.Type {
				return fmt.Errorf("criu: answer %s to a %s request", resp.Type, r.Type)
			}
			return nil
		}
		nt := resp.Notify
		if r.Notify != nil {
			err = r.Notify(nt.Script, int(nt.Pid), fd)
		}
		if fd != nil {
			fd.Close()
		}
		if err != nil {
			return fmt.Errorf("criu notification %s: %w", nt.Script, err)
		}
		req = &reqMsg{Type: ReqNotify, NotifySuccess: true}
	}
}

// receivedFile is the fd an SCM_RIGHTS message carried, if any.
func receivedFile(oob []byte) (*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("criu: control message: %w", err)
	}
	var f *os.File
	for i := range msgs {
		fds, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			if f == nil {
				f = os.NewFile(uintptr(fd), "criu-fd")
			} else {
				unix.Close(fd)
			}
		}
	}
	return f, nil
}

// CgroupsMode is --manage-cgroups-mode as criu's enum; "" is criu's
// default (soft).
func CgroupsMode(mode string) (CgMode, error) {
	switch mode {
	case "":
		return CgDefault, nil
	case "soft":
		return CgSoft, nil
	case "full":
		return CgFull, nil
	case "strict":
		return CgStrict, nil
	case "ignore":
		return CgIgnore, nil
	}
	return 0, fmt.Errorf("--manage-cgroups-mode %q: not one of soft, full, strict, ignore", mode)
}

// Failed is the error of a failed criu operation: err, the log's path
// and the lines of it that say what went wrong, and — when criu's own
// check of this host fails too — that, since it is then the likely cause.
func Failed(err error, log string) error {
	msg := fmt.Sprintf("%v; criu's log: %s", err, log)
	if lines := errorLines(log, 8); len(lines) > 0 {
		msg += "\n" + strings.Join(lines, "\n")
	}
	if bin, ferr := Find(); ferr == nil {
		if out, cerr := exec.Command(bin, "check").CombinedOutput(); cerr != nil {
			msg += fmt.Sprintf("\n`criu check` fails on this host (%v): %s", cerr, lastLines(string(out), 4))
		}
	}
	return errors.New(msg)
}

// errorLines are the last max lines of criu's log that report an error.
func errorLines(log string, max int) []string {
	f, err := os.Open(log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		if strings.Contains(s.Text(), "Error") {
			lines = append(lines, s.Text())
		}
	}
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	return lines
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LogPath is where criu writes the log named file: the work directory
// when there is one, else the image directory.
func LogPath(imageDir, workDir, file string) string {
	if workDir != "" {
		return filepath.Join(workDir, file)
	}
	return filepath.Join(imageDir, file)
}
