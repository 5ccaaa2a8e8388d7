package integration

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	kanconsole "github.com/kan-runtime/kan/libcontainer/console"
)

// consoleListener is a tiny recvtty: it accepts one connection on a unix
// socket, receives the pty master and collects everything the container
// writes to its terminal.
type consoleListener struct {
	path string
	out  chan string
}

func listenConsole(t *testing.T) *consoleListener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	c := &consoleListener{path: path, out: make(chan string, 1)}
	go func() {
		defer l.Close()
		conn, err := l.AcceptUnix()
		if err != nil {
			c.out <- "accept: " + err.Error()
			return
		}
		f, _ := conn.File()
		conn.Close()
		master, err := kanconsole.RecvFd(f)
		f.Close()
		if err != nil {
			c.out <- "recv: " + err.Error()
			return
		}
		var buf bytes.Buffer
		io.Copy(&buf, master) // ends with EIO once the container is gone
		master.Close()
		c.out <- buf.String()
	}()
	return c
}

func (c *consoleListener) output(t *testing.T) string {
	t.Helper()
	select {
	case s := <-c.out:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("no terminal output")
		return ""
	}
}

// TestConsoleSocket: the terminal and /dev/console, with either init.
func TestConsoleSocket(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			l := listenConsole(t)
			b := newBundle(t, "sh", "-c", "tty; test -t 0 && test -t 1 && echo is-a-tty; stty size; ls -l /dev/console | cut -c1; echo done")
			k.edit(b.Spec)
			b.Spec.Process.Terminal = true
			b.Spec.Process.ConsoleSize = &specs.Box{Height: 33, Width: 111}
			id := newID(t)
			r := e.kan("run", "--console-socket", l.path, "--bundle", b.write(t), id)
			if r.code != 0 {
				t.Fatalf("run with a console socket: %v", r)
			}
			out := strings.ReplaceAll(l.output(t), "\r", "")
			for _, want := range []string{"/dev/pts/0\n", "is-a-tty\n", "33 111\n", "c\n", "done\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("terminal output lacks %q: %q", want, out)
				}
			}
			e.assertGone(id)
		})
	}
}

func TestConsoleShortLivedLosesNoOutput(t *testing.T) {
	e := newEnv(t)
	l := listenConsole(t)
	b := newBundle(t, "sh", "-c", "seq 1 2000")
	b.Spec.Process.Terminal = true
	id := e.create(b, "--console-socket", l.path)
	e.must("start", id)
	out := strings.ReplaceAll(l.output(t), "\r", "")
	if !strings.HasSuffix(out, "1999\n2000\n") || strings.Count(out, "\n") != 2000 {
		t.Fatalf("lost terminal output: %d lines, ends %q", strings.Count(out, "\n"), out[max(0, len(out)-20):])
	}
}

func TestConsoleErrors(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "true")
	b.Spec.Process.Terminal = true
	e.fails("console socket", "create", "--bundle", b.write(t), newID(t))
	e.fails("--console-socket", "create", "--console-socket", "/nonexistent.sock", "--bundle", b.dir, newID(t))
	notSock := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notSock, nil, 0o644)
	e.fails("not a unix socket", "create", "--console-socket", notSock, "--bundle", b.dir, newID(t))
	plain := newBundle(t, "true")
	e.fails("process.terminal is false", "create", "--console-socket", notSock, "--bundle", plain.write(t), newID(t))
}

// TestRunAttachesCallersTerminal: kan run of a terminal container without
// --console-socket gives it the caller's terminal, as runc run does.
func TestRunAttachesCallersTerminal(t *testing.T) {
	e := newEnv(t)
	pty, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	pty.Resize(console.WinSize{Height: 21, Width: 77})
	slave, err := os.OpenFile(slavePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "sh", "-c", "stty size; read line; echo got:$line")
	b.Spec.Process.Terminal = true
	id := newID(t)
	cmd := exec.Command(kanBin, "--root", e.root, "run", "--bundle", b.write(t), id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var buf bytes.Buffer
	readDone := make(chan struct{})
	go func() { io.Copy(&buf, pty); close(readDone) }()
	time.Sleep(300 * time.Millisecond)
	pty.Write([]byte("hello\r"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v, output %q", err, buf.String())
	}
	pty.Close()
	<-readDone
	out := buf.String()
	if !strings.Contains(out, "21 77") || !strings.Contains(out, "got:hello") {
		t.Fatalf("terminal session: %q", out)
	}
	e.assertGone(id)
}

// TestTerminalOwnedByUser: the pty of a process whose user is 1000:1000
// is owned by uid 1000, its group left as devpts makes it (gid=5, the
// config's tty group), as runc does: for run, under both inits, and for
// exec. /dev/console, the same pty, shows the same.
func TestTerminalOwnedByUser(t *testing.T) {
	const show = "stat -c '%u %g' $(tty) /dev/console; echo done"
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			l := listenConsole(t)
			b := newBundle(t, "sh", "-c", show)
			k.edit(b.Spec)
			b.Spec.Process.Terminal = true
			b.Spec.Process.User = specs.User{UID: 1000, GID: 1000}
			id := newID(t)
			if r := e.kan("run", "--console-socket", l.path, "--bundle", b.write(t), id); r.code != 0 {
				t.Fatalf("run: %v", r)
			}
			out := strings.ReplaceAll(l.output(t), "\r", "")
			if out != "1000 5\n1000 5\ndone\n" {
				t.Fatalf("the terminal is not the user's: %q", out)
			}
			e.assertGone(id)
		})
	}
	t.Run("exec", func(t *testing.T) {
		e := newEnv(t)
		id := e.running(sleeper(t))
		l := listenConsole(t)
		e.must("exec", "-t", "-d", "--console-socket", l.path, "-u", "1000:1000", id, "sh", "-c", "stat -c '%u %g' $(tty); echo done")
		out := strings.ReplaceAll(l.output(t), "\r", "")
		if out != "1000 5\ndone\n" {
			t.Fatalf("the exec's terminal is not the user's: %q", out)
		}
	})
}

// TestConsoleOnReadonlyDev: a read-only tmpfs at /dev with a terminal, as
// runc takes it: /dev/console is made before /dev turns read-only.
func TestConsoleOnReadonlyDev(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			l := listenConsole(t)
			b := newBundle(t, "sh", "-c", "test -t 0 && echo is-a-tty; ls -l /dev/console | cut -c1; touch /dev/x 2>/dev/null || echo dev-readonly")
			k.edit(b.Spec)
			b.Spec.Process.Terminal = true
			for i := range b.Spec.Mounts {
				if b.Spec.Mounts[i].Destination == "/dev" {
					b.Spec.Mounts[i].Options = append(b.Spec.Mounts[i].Options, "ro")
				}
			}
			id := newID(t)
			if r := e.kan("run", "--console-socket", l.path, "--bundle", b.write(t), id); r.code != 0 {
				t.Fatalf("run with a terminal on a read-only /dev: %v", r)
			}
			out := strings.ReplaceAll(l.output(t), "\r", "")
			for _, want := range []string{"is-a-tty\n", "c\n", "dev-readonly\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("terminal output lacks %q: %q", want, out)
				}
			}
			e.assertGone(id)
		})
	}
}
