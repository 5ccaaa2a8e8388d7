package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestConsoleThroughRecvtty: the shipped recvtty receives the terminal of
// a detached container; what the container writes reaches recvtty's
// stdout, what recvtty reads reaches the container, process.consoleSize
// is applied and /dev/console is the pty.
func TestConsoleThroughRecvtty(t *testing.T) {
	recvtty := os.Getenv("RECVTTY_BINARY")
	if recvtty == "" {
		t.Fatal("RECVTTY_BINARY is not set (make integration sets it)")
	}
	e := newEnv(t)
	dir := t.TempDir()
	sock, pidFile := filepath.Join(dir, "tty.sock"), filepath.Join(dir, "recvtty.pid")
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(recvtty, "-pid-file", pidFile, sock)
	cmd.Stdout, cmd.Stderr = out, out
	// recvtty copies its stdin to the container: a pipe we write once
	// the container is up.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	waitFor(t, "recvtty to listen", func() bool { _, err := os.Stat(pidFile); return err == nil })

	b := newBundle(t, "sh", "-c", "tty; stty size; stat -c 'console %t:%T' /dev/console; echo hello-from-kan; read line; echo got:$line")
	b.Spec.Process.Terminal = true
	b.Spec.Process.ConsoleSize = &specs.Box{Height: 40, Width: 100}
	id := newID(t)
	r := e.kan("run", "-d", "--console-socket", sock, "--bundle", b.write(t), id)
	if r.code != 0 {
		t.Fatalf("run -d: %v", r)
	}
	t.Cleanup(func() { e.kan("delete", "--force", id); e.assertGone(id) })
	stdin.Write([]byte("typed-in\n"))
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("recvtty did not exit when the container did")
	}
	e.waitStatus(id, "stopped")
	e.must("delete", id)
	data, _ := os.ReadFile(out.Name())
	got := strings.ReplaceAll(string(data), "\r", "")
	// 136 is 0x88, the major of /dev/pts/N.
	for _, want := range []string{"/dev/pts/0\n", "40 100\n", "console 88:0\n", "hello-from-kan\n", "got:typed-in\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("recvtty received %q, which lacks %q", got, want)
		}
	}
}

// runShell runs kan through sh -c script (with "$@" the kan command
// line), with extra files from fd 3, and returns its stdout and stderr.
func (e *env) runShell(script string, extra []*os.File, args ...string) (string, string, error) {
	e.t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", script, kanBin, "--root", e.root}, args...)...)
	dir := e.t.TempDir()
	stdout, _ := os.Create(filepath.Join(dir, "stdout"))
	stderr, _ := os.Create(filepath.Join(dir, "stderr"))
	defer stdout.Close()
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = extra
	err := cmd.Run()
	o, _ := os.ReadFile(stdout.Name())
	x, _ := os.ReadFile(stderr.Name())
	return string(o), string(x), err
}

func tempFileWith(t *testing.T, content string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte(content), 0o644)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestListenFdsPassThrough: under socket activation (LISTEN_FDS and
// LISTEN_PID naming kan), the listen fds go on to the container, which is
// told LISTEN_FDS=N and LISTEN_PID=1; --preserve-fds fds follow them.
func TestListenFdsPassThrough(t *testing.T) {
	e := newEnv(t)
	listen, extra := tempFileWith(t, "listen-fd\n"), tempFileWith(t, "preserved\n")
	script := `echo "fds=$LISTEN_FDS pid=$LISTEN_PID"; cat <&3; cat <&4 2>&1; ls /proc/self/fd | tr '\n' ' '`

	b := newBundle(t, "sh", "-c", script)
	out, errOut, err := e.runShell(`LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, []*os.File{listen, extra},
		"run", "--preserve-fds", "1", "--bundle", b.write(t), newID(t))
	if err != nil {
		t.Fatalf("run under socket activation: %v %s", err, errOut)
	}
	if want := "fds=1 pid=1\nlisten-fd\npreserved\n0 1 2 3 4 5 "; out != want {
		t.Errorf("container saw %q, want %q", out, want)
	}

	// LISTEN_PID naming another process: not socket activation.
	b = newBundle(t, "sh", "-c", script)
	out, errOut, err = e.runShell(`LISTEN_PID=1 LISTEN_FDS=1 exec "$0" "$@"`, []*os.File{listen, extra},
		"run", "--bundle", b.write(t), newID(t))
	if err != nil {
		t.Fatalf("run: %v %s", err, errOut)
	}
	if !strings.HasPrefix(out, "fds= pid=\n") || strings.Contains(out, "listen-fd") || strings.Contains(out, "preserved") {
		t.Errorf("without socket activation the container saw %q", out)
	}
}

// TestSessionKeyring: by default the container joins a new session
// keyring named _ses.<id>; with --no-new-keyring it keeps kan's.
func TestSessionKeyring(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{nil, {"--no-new-keyring"}} {
		b := newBundle(t, "cat", "/proc/keys")
		b.Spec.Linux.MaskedPaths = nil // the default config masks /proc/keys
		id := newID(t)
		r := e.kan(append(append([]string{"run"}, args...), "--bundle", b.write(t), id)...)
		if r.code != 0 {
			t.Fatalf("run %v: %v", args, r)
		}
		has := strings.Contains(r.stdout, "keyring   _ses."+id+":") || strings.Contains(r.stdout, " _ses."+id+":")
		if args == nil && !has {
			t.Errorf("default: no session keyring _ses.%s in %q", id, r.stdout)
		}
		if args != nil && has {
			t.Errorf("--no-new-keyring: the container joined _ses.%s: %q", id, r.stdout)
		}
	}
}

// TestPidFile: --pid-file holds the init's pid, written atomically (no
// temporary file left next to it), relative to kan's working directory.
func TestPidFile(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	id := e.create(newBundle(t, "sleep", "1000"), "--pid-file", filepath.Join(dir, "pid"))
	pid := int(e.state(id)["pid"].(float64))
	data, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil || string(data) != strconv.Itoa(pid) {
		t.Fatalf("pid file %q (%v), want %d", data, err, pid)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("pid file directory holds %v, want only pid", entries)
	}

	// A relative path is taken from kan's working directory.
	dir2 := t.TempDir()
	b := newBundle(t, "sleep", "1000")
	id2 := newID(t)
	cmd := exec.Command(kanBin, "--root", e.root, "create", "--pid-file", "rel.pid", "--bundle", b.write(t), id2)
	cmd.Dir = dir2
	// Not a pipe: the created container keeps kan's stdio.
	log, _ := os.Create(filepath.Join(t.TempDir(), "log"))
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(log.Name())
		t.Fatalf("create with a relative pid file: %v %s", err, out)
	}
	t.Cleanup(func() { e.kan("delete", "--force", id2) })
	data, _ = os.ReadFile(filepath.Join(dir2, "rel.pid"))
	if string(data) != strconv.Itoa(int(e.state(id2)["pid"].(float64))) {
		t.Errorf("relative pid file holds %q", data)
	}
}
