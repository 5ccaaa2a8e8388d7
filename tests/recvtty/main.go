// Command recvtty is the other end of `kan create --console-socket`: it
// listens on a unix socket, receives the pty master of a container's
// terminal, copies what the container writes to stdout and, unless
// -no-stdin, its own stdin to the container. It exits when the container
// closes its terminal. Tests use it; so can a person:
//
//	recvtty /tmp/tty.sock &
//	kan run --console-socket /tmp/tty.sock -d mycontainer
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	kanconsole "github.com/kan-runtime/kan/libcontainer/console"
)

func main() {
	noStdin := flag.Bool("no-stdin", false, "do not copy stdin to the container")
	pidFile := flag.String("pid-file", "", "write recvtty's pid here once it listens")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: recvtty [-no-stdin] [-pid-file FILE] SOCKET")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *pidFile, !*noStdin); err != nil {
		fmt.Fprintln(os.Stderr, "recvtty:", err)
		os.Exit(1)
	}
}

func run(path, pidFile string, stdin bool) error {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	defer l.Close()
	if pidFile != "" {
		if err := os.WriteFile(pidFile, []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
			return err
		}
	}
	conn, err := l.AcceptUnix()
	if err != nil {
		return err
	}
	f, err := conn.File()
	conn.Close()
	if err != nil {
		return err
	}
	master, err := kanconsole.RecvFd(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("receive the terminal: %w", err)
	}
	defer master.Close()
	if stdin {
		go io.Copy(master, os.Stdin)
	}
	// Reading the master ends with EIO once the container's side is
	// closed: that is the normal end.
	io.Copy(os.Stdout, master)
	return nil
}
