// Package console gives a container a pseudo-terminal when
// process.terminal is set: the init allocates it from the container's own
// devpts instance, makes the slave its stdio, controlling terminal and
// /dev/console, and sends the master to whoever listens on the console
// socket (SCM_RIGHTS, as runc does), who then owns the container's
// terminal.
package console

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Setup runs in the init after pivot_root. It allocates a pty, sends its
// master over socket and makes the slave the process's stdio and
// controlling terminal.
//
// devConsole makes /dev/console the new terminal too: for the container's
// first process, not for one `kan exec` adds.
func Setup(socket *os.File, size *specs.Box, devConsole bool) error {
	master, err := os.OpenFile("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("get pty number: %w", err)
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	if devConsole {
		if err := bindConsole(slavePath); err != nil {
			return err
		}
	}
	if err := SendFd(socket, slavePath, master); err != nil {
		return fmt.Errorf("send pty master over the console socket: %w", err)
	}
	slave, err := os.OpenFile(slavePath, unix.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	defer slave.Close()
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make %s the controlling terminal: %w", slavePath, err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	return nil
}

// bindConsole makes /dev/console the container's terminal.
func bindConsole(slavePath string) error {
	f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	f.Close()
	if err := unix.Mount(slavePath, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s to /dev/console: %w", slavePath, err)
	}
	return nil
}

// SendFd sends f over the unix socket sock, with name as the message.
func SendFd(sock *os.File, name string, f *os.File) error {
	rights := unix.UnixRights(int(f.Fd()))
	return unix.Sendmsg(int(sock.Fd()), []byte(name), rights, nil, 0)
}

// RecvFd receives one fd sent with SendFd.
func RecvFd(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, errors.New("no fd in the message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("bad fd message: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// Dial connects to the console socket at path, with an error that says
// what is wrong with it.
func Dial(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--console-socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("--console-socket: %s is not a unix socket", path)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("--console-socket: connect to %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}
