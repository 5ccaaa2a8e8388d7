// Package console is kan's side of the console socket. When
// process.terminal is set, the applier (nsenter/laststage.c) allocates a
// pty from the container's own devpts instance, makes the slave the
// process's stdio, controlling terminal and (for the init) /dev/console,
// and sends the master to whoever listens on the console socket
// (SCM_RIGHTS, as runc does), who then owns the container's terminal.
// This package sends and receives such fds and dials the socket.
package console

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

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
	return DialFor("--console-socket", path)
}

// DialFor connects to the unix socket at path given with flag, with an
// error that names the flag and says what is wrong with the socket.
func DialFor(flag, path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("%s: %s is not a unix socket", flag, path)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: connect to %s: %w", flag, path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}
