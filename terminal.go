package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	cons "github.com/containerd/console"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	kanconsole "github.com/kan-runtime/kan/libcontainer/console"
)

// terminal attaches the caller's terminal to a container's pty, for `kan
// run` of a terminal container without --console-socket: the init sends
// the pty master to ours, the other end of a socketpair.
type terminal struct {
	ours, theirs *os.File
	master       *os.File
	current      cons.Console // the caller's terminal, if stdin is one
	done         sync.WaitGroup
}

// callerTerminal gives a process that asks for a terminal (wants), of a
// command in the foreground without --console-socket, the caller's
// terminal, as runc does: the terminal, and the socket that receives the
// container's pty master. Otherwise it gives nil, nil.
func callerTerminal(cmd *cli.Command, wants, detach bool) (*terminal, *os.File, error) {
	if !wants || detach || cmd.String("console-socket") != "" {
		return nil, nil, nil
	}
	t, err := newTerminal()
	if err != nil {
		return nil, nil, err
	}
	return t, t.theirs, nil
}

func newTerminal() (*terminal, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socketpair: %w", err)
	}
	return &terminal{ours: os.NewFile(uintptr(fds[0]), "console-ours"), theirs: os.NewFile(uintptr(fds[1]), "console-theirs")}, nil
}

// attach receives the master, puts the caller's terminal in raw mode and
// copies in both directions.
func (t *terminal) attach() error {
	t.theirs.Close()
	master, err := kanconsole.RecvFd(t.ours)
	if err != nil {
		return fmt.Errorf("receive the container's terminal: %w", err)
	}
	t.master = master
	if c, err := cons.ConsoleFromFile(os.Stdin); err == nil {
		t.current = c
		if err := c.SetRaw(); err != nil {
			return fmt.Errorf("set the terminal to raw mode: %w", err)
		}
		t.resize()
	}
	go io.Copy(master, os.Stdin)
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		io.Copy(os.Stdout, master)
	}()
	return nil
}

// resize gives the container's terminal the caller's window size.
func (t *terminal) resize() {
	if t.current == nil || t.master == nil {
		return
	}
	if ws, err := t.current.Size(); err == nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: ws.Height, Col: ws.Width})
	}
}

// drain waits for the container's last output once it has exited: the
// read side gets EIO when the last slave fd closes.
func (t *terminal) drain() {
	if t.master != nil {
		t.done.Wait()
	}
}

// close restores the caller's terminal.
func (t *terminal) close() {
	if t == nil {
		return
	}
	if t.current != nil {
		t.current.Reset()
	}
	t.ours.Close()
	t.theirs.Close()
	if t.master != nil {
		t.master.Close()
	}
}
