// Command seccompagent is the tests' seccomp agent: it listens on a unix
// socket for the listener fd a runtime sends for a SCMP_ACT_NOTIFY filter
// (linux.seccomp.listenerPath), writes the container process state that
// came with it to a file, and answers every notification with ENOMEDIUM,
// an errno the container's process would get from no real syscall here.
//
//	seccompagent SOCKET STATEFILE
//
// It serves every connection it gets, each on its own: the state goes to
// STATEFILE.1, STATEFILE.2, ... in the order they came, and the
// notifications are answered until that listener is gone (every process
// of its filter exited). It runs until killed.
package main

import (
	"fmt"
	"net"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// struct seccomp_notif and struct seccomp_notif_resp (linux/seccomp.h).
type notif struct {
	id    uint64
	pid   uint32
	flags uint32
	data  [64]byte // struct seccomp_data
}

type notifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: seccompagent SOCKET STATEFILE")
		os.Exit(2)
	}
	if err := serve(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "seccompagent:", err)
		os.Exit(1)
	}
}

func serve(sockPath, stateFile string) error {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		return err
	}
	defer l.Close()
	for n := 1; ; n++ {
		conn, err := l.AcceptUnix()
		if err != nil {
			return err
		}
		listener, err := receive(conn, fmt.Sprintf("%s.%d", stateFile, n))
		if err != nil {
			fmt.Fprintln(os.Stderr, "seccompagent:", err)
			continue
		}
		go answer(listener)
	}
}

// receive reads the state and the listener fd from conn and writes the
// state to file.
func receive(conn *net.UnixConn, file string) (int, error) {
	defer conn.Close()
	buf, oob := make([]byte, 1<<16), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("no fd with the state (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, fmt.Errorf("want one fd (%v)", err)
	}
	if err := os.WriteFile(file+".tmp", buf[:n], 0o644); err != nil {
		return -1, err
	}
	return fds[0], os.Rename(file+".tmp", file)
}

// answer answers each notification of listener with ENOMEDIUM.
func answer(listener int) {
	defer unix.Close(listener)
	for {
		var req notif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			if e == unix.EINTR {
				continue
			}
			return // ENOENT: no process of the filter left
		}
		resp := notifResp{id: req.id, error: -int32(unix.ENOMEDIUM)}
		unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}
