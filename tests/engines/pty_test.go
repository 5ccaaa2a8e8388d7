package engines

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
)

// ptySession is an engine client run on a pty, as a user at a terminal
// runs it: `docker run -it`, `ctr run -t`, `podman exec -it`.
type ptySession struct {
	t      *testing.T
	cmd    *exec.Cmd
	master console.Console
	mu     sync.Mutex
	buf    bytes.Buffer
	done   chan struct{} // closed when the output reaches EOF
}

// Terminal size the tests give the pty; the container must see it.
const ptyRows, ptyCols = 37, 91

func startPty(t *testing.T, env []string, name string, args ...string) *ptySession {
	t.Helper()
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	if err := master.Resize(console.WinSize{Height: ptyRows, Width: ptyCols}); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), append([]string{"TERM=xterm"}, env...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	s := &ptySession{t: t, cmd: cmd, master: master, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			s.mu.Lock()
			s.buf.Write(b[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		master.Close()
	})
	return s
}

func (s *ptySession) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// expect waits until the output contains want.
func (s *ptySession) expect(want string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.output(), want) {
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q on the terminal; got %q", want, s.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// send types a line.
func (s *ptySession) send(line string) {
	s.t.Helper()
	if _, err := s.master.Write([]byte(line + "\r")); err != nil {
		s.t.Fatal(err)
	}
}

// wait returns the client's exit code and everything it printed.
func (s *ptySession) wait() (int, string) {
	s.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- s.cmd.Wait() }()
	var err error
	select {
	case err = <-errc:
	case <-time.After(60 * time.Second):
		s.t.Fatalf("the client did not exit; terminal shows %q", s.output())
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return code, s.output()
}

// interactive drives a shell on the terminal: it checks the shell has a
// terminal of the pty's size, computes something from what is typed, and
// exits with 3.
func interactive(t *testing.T, s *ptySession) {
	t.Helper()
	s.expect("#") // busybox sh's root prompt
	s.send("tty; stty size; echo result=$((6*7))")
	s.expect("result=42")
	s.send("exit 3")
	code, out := s.wait()
	if code != 3 {
		t.Errorf("exit code %d, want 3; terminal: %q", code, out)
	}
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("tty does not name a pty: %q", out)
	}
	if want := strconv.Itoa(ptyRows) + " " + strconv.Itoa(ptyCols); !strings.Contains(out, want) {
		t.Errorf("stty size does not show the terminal's size %q: %q", want, out)
	}
}
