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

	"github.com/kan-runtime/kan/libcontainer/safeproc"
)

// Setup runs in the init after pivot_root. It allocates a pty owned by
// uid (the process's user), makes it /dev/console, sends its master over
// socket and makes the slave the process's stdio and controlling
// terminal. (A process `kan exec` adds
// gets its terminal from the exec stage in C, the same way but for
// /dev/console: libcontainer/nsenter/laststage.c.)
func Setup(socket *os.File, size *specs.Box, uid uint32) error {
	master, err := os.OpenFile("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer master.Close()
	// /dev/ptmx comes from the rootfs (a link to pts/ptmx, or a node):
	// it must be the pty multiplexer, not whatever a link points at.
	if err := checkChar(master, "/dev/ptmx", func(maj, min uint32) bool { return maj == 5 && min == 2 }); err != nil {
		return err
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("get pty number: %w", err)
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	// The slave straight from the master (TIOCGPTPEER), not by its path:
	// /dev/pts/N of the rootfs could be a link to anything (the
	// CVE-2025-52565 class).
	slave, err := peer(master)
	if err != nil {
		return fmt.Errorf("open the pty slave: %w", err)
	}
	defer slave.Close()
	// Unix98 pty slaves have majors 136-143.
	if err := checkChar(slave, slavePath, func(maj, min uint32) bool { return maj >= 136 && maj <= 143 }); err != nil {
		return err
	}
	// The terminal is the user's, as runc makes it: its uid; the group
	// stays the devpts mount's (gid=5, tty, in the usual config). An id
	// the user namespace does not map, or a read-only devpts, leaves it
	// as it is, as with runc.
	if err := unix.Fchown(int(slave.Fd()), int(uid), -1); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
		return fmt.Errorf("chown %s to uid %d: %w", slavePath, uid, err)
	}
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	if err := bindConsole(slave); err != nil {
		return err
	}
	if err := SendFd(socket, slavePath, master); err != nil {
		return fmt.Errorf("send pty master over the console socket: %w", err)
	}
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

// peer opens the slave of the pty master.
func peer(master *os.File) (*os.File, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return nil, errno
	}
	return os.NewFile(fd, "pty-slave"), nil
}

// checkChar checks that f is a character device whose numbers ok accepts.
func checkChar(f *os.File, name string, ok func(maj, min uint32) bool) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || !ok(unix.Major(st.Rdev), unix.Minor(st.Rdev)) {
		return fmt.Errorf("%s is not a pty device (mode %#o, %d:%d): refusing to use it", name, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return nil
}

// bindConsole makes /dev/console the container's terminal: the slave is
// bind-mounted onto the very file opened (never following a link) as
// /dev/console, both taken by fd with the mount API. Not through
// /proc/self/fd: the container's /proc may be no procfs at all, and its
// "fd/N" links to files of the image's choice.
func bindConsole(slave *os.File) error {
	f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat /dev/console: %w", err)
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFCHR {
		return fmt.Errorf("/dev/console is not a file or device (mode %#o)", st.Mode)
	}
	tree, err := unix.OpenTree(int(slave.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOSYS) {
		// No mount API (before 5.2, or a seccomp filter refuses it).
		return bindConsoleByPath(slave, f)
	}
	if err != nil {
		return fmt.Errorf("clone the pty's mount: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", int(f.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind the pty to /dev/console: %w", err)
	}
	return nil
}

// bindConsoleByPath binds slave onto console through their
// /proc/self/fd paths, in a /proc checked to be a procfs.
func bindConsoleByPath(slave, console *os.File) error {
	src, err := safeproc.SelfFdPath(slave)
	if err != nil {
		return fmt.Errorf("bind the pty to /dev/console: %w", err)
	}
	dst, err := safeproc.SelfFdPath(console)
	if err != nil {
		return fmt.Errorf("bind the pty to /dev/console: %w", err)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the pty to /dev/console: %w", err)
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
