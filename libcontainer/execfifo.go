package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/state"
)

// How create and start meet. Two fifos in the container's state
// directory, both held open read-write by the init, so that opening them
// never blocks and the init's reads block until someone writes:
//
//   - exec.fifo: start writes one byte; the init, blocked reading it, goes
//     on to run its startContainer hooks and execute the program.
//   - exec.done: the init writes why it failed (a startContainer hook)
//     before it exits; when it executes the program, its close-on-exec fd
//     closes and start, polling the fifo, sees the hang-up. So start
//     returns only once the program runs, and poststart hooks run after
//     it, as the spec asks.

// execFifos makes both fifos and opens them read-write, for the init.
func execFifos(dir string) (start, done *os.File, err error) {
	open := func(name string) (*os.File, error) {
		path := filepath.Join(dir, name)
		if err := unix.Mkfifo(path, 0o600); err != nil {
			return nil, fmt.Errorf("make %s: %w", name, err)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		return f, nil
	}
	if start, err = open(state.FifoFile); err != nil {
		return nil, nil, err
	}
	if done, err = open(state.DoneFile); err != nil {
		start.Close()
		return nil, nil, err
	}
	return start, done, nil
}

// releaseInit is start's side: let the init go and wait until it has
// executed the program, or report why it could not.
func releaseInit(dir string) error {
	startPath, donePath := filepath.Join(dir, state.FifoFile), filepath.Join(dir, state.DoneFile)
	// Open done for reading, then open and close a writer of our own:
	// only a writer that came after our open makes the kernel report a
	// hang-up once all writers are gone.
	done, err := os.OpenFile(donePath, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", state.DoneFile, err)
	}
	defer done.Close()
	w, err := os.OpenFile(donePath, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", state.DoneFile, err)
	}
	w.Close()

	f, err := os.OpenFile(startPath, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ENXIO) {
			return errors.New("cannot start: the container's init process has exited")
		}
		return fmt.Errorf("open %s: %w", state.FifoFile, err)
	}
	_, err = f.Write([]byte{0})
	f.Close()
	if err != nil {
		return fmt.Errorf("release init: %w", err)
	}
	for {
		fds := []unix.PollFd{{Fd: int32(done.Fd()), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("wait for the init: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			msg, _ := io.ReadAll(io.LimitReader(done, 4096))
			return fmt.Errorf("container failed to start: %s", doneMessage(msg))
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
			return nil // the program runs
		}
	}
}

// doneMessage words what an init wrote to exec.done: the C init writes its
// errno after a NUL, as a number (the Go init writes its whole message).
func doneMessage(msg []byte) string {
	text, num, found := strings.Cut(string(msg), "\x00")
	if !found {
		return text
	}
	if n, err := strconv.Atoi(num); err == nil && n != 0 {
		return text + ": " + unix.Errno(n).Error()
	}
	return text
}

// waitStart is the init's side: block until start writes.
func waitStart(start *os.File) error {
	buf := make([]byte, 1)
	for {
		n, err := start.Read(buf)
		if n == 1 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
