package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/console"
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
	// Typed once the container waits for it: the terminal echoes what is
	// typed, which would otherwise land among the lines above.
	waitFor(t, "the container to wait for input", func() bool {
		data, _ := os.ReadFile(out.Name())
		return strings.Contains(string(data), "hello-from-kan")
	})
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

// TestExecExitCodes: when kan exec cannot start the process it exits 255,
// as runc does, so that a caller tells that from a process that exited
// 1; a usage error (no container id) exits 1, like runc's.
func TestExecExitCodes(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "sleep", "1000"))
	e.must("start", id)
	stopped := e.create(newBundle(t, "true"))
	e.must("start", stopped)
	e.waitStatus(stopped, "stopped")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "no-such-container", "true"}, "does not exist"},
		{[]string{"exec", stopped, "true"}, "cannot exec in a stopped container"},
		{[]string{"exec", "--pid-file", "/nonexistent/dir/pid", id, "true"}, "--pid-file"},
		{[]string{"exec", id, "no-such-program"}, "executable file not found in $PATH"},
		{[]string{"exec", id}, "expected a command"},
	} {
		r := e.kan(c.args...)
		if r.code != 255 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("kan %v: %v, want exit 255 and %q", c.args, r, c.want)
		}
	}
	if r := e.kan("exec", id, "sh", "-c", "exit 1"); r.code != 1 {
		t.Errorf("a process that exits 1: kan exec %v", r)
	}
	if r := e.kan("exec"); r.code != 1 {
		t.Errorf("exec without a container id: %v, want exit 1", r)
	}
}

// TestCommandExitCodes: the other commands' failures exit as runc's do
// (checked against runc 1.1.5 and 1.4): 1 for an error, 3 for an unknown
// command, 0 for delete --force of a missing container.
func TestCommandExitCodes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"delete", "nosuch"}, 1},
		{[]string{"delete", "--force", "nosuch"}, 0},
		{[]string{"kill", "nosuch"}, 1},
		{[]string{"kill", "nosuch", "NOSIG"}, 1},
		{[]string{"state", "nosuch"}, 1},
		{[]string{"start", "nosuch"}, 1},
		{[]string{"pause", "nosuch"}, 1},
		{[]string{"resume", "nosuch"}, 1},
		{[]string{"ps", "nosuch"}, 1},
		{[]string{"events", "--stats", "nosuch"}, 1},
		{[]string{"update", "--pids-limit", "10", "nosuch"}, 1},
		{[]string{"create", "--bundle", "/nonexistent", "x"}, 1},
		{[]string{"run", "--bundle", "/nonexistent", "x"}, 1},
		{[]string{"state"}, 1},
		{[]string{"kill", "--bogus", "x"}, 1},
		{[]string{"--bogus", "list"}, 1},
		{[]string{"bogus"}, 3},
		{[]string{"--log-format", "xml", "list"}, 1},
		{[]string{"list"}, 0},
	} {
		if r := e.kan(c.args...); r.code != c.code {
			t.Errorf("kan %v: %v, want exit %d", c.args, r, c.code)
		}
	}
}

// TestRuncErrorPhrases: the errors engines match keep runc's words around
// kan's detail. Docker and Podman map "executable file not found in $PATH"
// to exit 127 and "permission denied" to 126; the containerd shim and
// CRI-O look for "container not running" after a kill races an exit.
func TestRuncErrorPhrases(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		prog, want string
	}{
		{"no-such-program", `no-such-program\": executable file not found in $PATH`}, // quoted, in a quoted msg
		{"/etc/passwd", "exec /etc/passwd: permission denied"},
		{"/etc", "/etc: "}, // "is a directory" or execve's "permission denied"
	} {
		r := e.run(newBundle(t, c.prog))
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("run %s: %v, want exit 1 and %q", c.prog, r, c.want)
		}
		e.fails(c.want, "create", "--bundle", newBundle(t, c.prog).write(t), newID(t))
	}
	id := e.create(newBundle(t, "sleep", "1000"))
	e.must("start", id)
	e.fails(`no-such-program\": executable file not found in $PATH`, "exec", id, "no-such-program")
	e.fails("exec /etc/passwd: permission denied", "exec", id, "/etc/passwd")

	e.must("pause", id)
	e.fails("cannot exec in a paused container", "exec", id, "true")
	e.must("resume", id)

	e.must("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	e.fails("container not running", "kill", id, "TERM")
}

// TestRootlessFlag: the global --rootless takes runc's values (true,
// false, auto, or any strconv.ParseBool spelling), before the command as
// runc's does, and refuses others, naming the flag.
func TestRootlessFlag(t *testing.T) {
	e := newEnv(t)
	for _, v := range []string{"true", "false", "auto", "1", "FALSE", "Auto"} {
		e.must("--rootless", v, "list")
		e.must("--rootless="+v, "list")
	}
	e.fails(`--rootless: \"maybe\" is not true, false or auto`, "--rootless", "maybe", "list")
}

// TestDefaultRootForUser: without --root, a user other than root keeps
// state in $XDG_RUNTIME_DIR/kan, as runc uses $XDG_RUNTIME_DIR/runc; root
// keeps /run/kan.
func TestDefaultRootForUser(t *testing.T) {
	xdg := t.TempDir()
	os.Chmod(xdg, 0o777)
	help := func(uid uint32) string {
		cmd := exec.Command(kanBin, "--help")
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+xdg)
		if uid != 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kan --help as uid %d: %v %s", uid, err, out)
		}
		return string(out)
	}
	if out := help(65534); !strings.Contains(out, `(default: "`+xdg+`/kan")`) {
		t.Errorf("as uid 65534 with XDG_RUNTIME_DIR=%s, the default root is not %s/kan:\n%s", xdg, xdg, out)
	}
	if out := help(0); !strings.Contains(out, `(default: "/run/kan")`) {
		t.Errorf("as root, the default root is not /run/kan:\n%s", out)
	}
}

// TestUsageErrorsReachTheLog: an unknown flag or command is reported in
// --log, in --log-format, as runc reports it, for an engine that reads
// only the log.
func TestUsageErrorsReachTheLog(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"kill", "--bogus", "x"}, "flag provided but not defined: -bogus"},
		{[]string{"exec", "--bogus", "x", "true"}, "flag provided but not defined: -bogus"},
		{[]string{"bogus"}, "No help topic for 'bogus'"},
	} {
		for _, format := range []string{"json", "text"} {
			log := filepath.Join(t.TempDir(), "log")
			r := e.kan(append([]string{"--log", log, "--log-format", format}, c.args...)...)
			if r.code == 0 {
				t.Fatalf("kan %v succeeded: %v", c.args, r)
			}
			data, _ := os.ReadFile(log)
			line := strings.TrimSpace(string(data))
			switch format {
			case "json":
				var entry map[string]any
				if err := json.Unmarshal([]byte(line), &entry); err != nil || entry["level"] != "error" || !strings.Contains(fmt.Sprint(entry["msg"]), c.want) {
					t.Errorf("kan %v: json log %q, want one error line with %q", c.args, line, c.want)
				}
			case "text":
				if !strings.Contains(line, "level=error") || !strings.Contains(line, c.want) {
					t.Errorf("kan %v: text log %q, want an error line with %q", c.args, line, c.want)
				}
			}
		}
	}
}

// pidfdListener listens on a unix socket for --pidfd-socket and returns
// its path and a function that waits for one pidfd: it returns the pid
// the pidfd refers to, the message sent with it, and the pidfd (pid -1
// and an error reported if none came). It may run on another goroutine.
func pidfdListener(t *testing.T) (string, func() (int, string, *os.File)) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pidfd.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return path, func() (int, string, *os.File) {
		l.(*net.UnixListener).SetDeadline(time.Now().Add(10 * time.Second))
		conn, err := l.Accept()
		if err != nil {
			t.Errorf("accept on the pidfd socket: %v", err)
			return -1, "", nil
		}
		defer conn.Close()
		f, err := conn.(*net.UnixConn).File()
		if err != nil {
			t.Error(err)
			return -1, "", nil
		}
		defer f.Close()
		pidfd, err := console.RecvFd(f)
		if err != nil {
			t.Errorf("receive the pidfd: %v", err)
			return -1, "", nil
		}
		t.Cleanup(func() { pidfd.Close() })
		data, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", pidfd.Fd()))
		pid := -1
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "Pid:\t"); ok {
				pid, _ = strconv.Atoi(v)
			}
		}
		return pid, pidfd.Name(), pidfd
	}
}

// TestPidfdSocket: create, run and exec with --pidfd-socket send a pidfd
// of the container's init (or the exec'd process) over the socket, with
// SCM_RIGHTS and runc's message ("standard" for an init, "setns" for an
// exec'd process), as containerd's go-runc expects; the pidfd signals
// that process.
func TestPidfdSocket(t *testing.T) {
	e := newEnv(t)
	sock, receive := pidfdListener(t)

	done := make(chan int, 1)
	go func() { pid, _, _ := receive(); done <- pid }()
	id := e.create(newBundle(t, "sleep", "1000"), "--pidfd-socket", sock)
	pid := <-done
	if want := int(e.state(id)["pid"].(float64)); pid != want {
		t.Fatalf("create: the pidfd is of pid %d, want the init's %d", pid, want)
	}

	type got struct {
		pid   int
		name  string
		pidfd *os.File
	}
	received := make(chan got, 1)
	go func() { p, n, f := receive(); received <- got{p, n, f} }()
	runID := newID(t)
	e.must("run", "-d", "--pidfd-socket", sock, "--bundle", newBundle(t, "sleep", "1000").write(t), runID)
	t.Cleanup(func() { e.kan("delete", "--force", runID) })
	g := <-received
	if want := int(e.state(runID)["pid"].(float64)); g.pid != want || g.name != "standard" {
		t.Fatalf("run: pidfd of pid %d with %q, want the init's %d with \"standard\"", g.pid, g.name, want)
	}
	if g.pidfd == nil {
		t.FailNow()
	}
	if err := unix.PidfdSendSignal(int(g.pidfd.Fd()), unix.SIGKILL, nil, 0); err != nil {
		t.Fatalf("signal through the pidfd: %v", err)
	}
	e.waitStatus(runID, "stopped")

	go func() { p, n, f := receive(); received <- got{p, n, f} }()
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("start", id)
	e.must("exec", "-d", "--pid-file", pidFile, "--pidfd-socket", sock, id, "sleep", "1000")
	g = <-received
	data, _ := os.ReadFile(pidFile)
	if want, _ := strconv.Atoi(string(data)); g.pid != want || g.name != "setns" {
		t.Fatalf("exec: pidfd of pid %d with %q, want the process's %d with \"setns\"", g.pid, g.name, want)
	}
	if g.pidfd == nil {
		t.FailNow()
	}
	if err := unix.PidfdSendSignal(int(g.pidfd.Fd()), unix.SIGKILL, nil, 0); err != nil {
		t.Fatalf("signal the exec'd process through the pidfd: %v", err)
	}
	waitFor(t, "the exec'd process to end", func() bool {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.pid))
		return err != nil || strings.Contains(string(data), ") Z ")
	})

	e.fails("--pidfd-socket", "exec", "--pidfd-socket", filepath.Join(t.TempDir(), "none"), id, "true")
}

// TestRunNoSubreaper: kan run is the subreaper of the container's
// orphans unless --no-subreaper (runc's flag) says not.
func TestRunNoSubreaper(t *testing.T) {
	e := newEnv(t)
	// Without a pid namespace the container sees host pids: the init's
	// parent is kan run, and an orphan's parent is whoever adopted it.
	script := `o=$(sh -c 'sleep 5 >/dev/null 2>&1 & echo $!'); set -- $(cat /proc/$o/stat); [ "$4" = "$PPID" ] && echo adopted-by-kan || echo adopted-elsewhere`
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "adopted-by-kan\n"},
		{[]string{"--no-subreaper"}, "adopted-elsewhere\n"},
	} {
		b := newBundle(t, "sh", "-c", script)
		withoutPidNS(b.Spec)
		if out := e.mustRun(b, c.args...); out != c.want {
			t.Errorf("run %v: %q, want %q", c.args, out, c.want)
		}
	}
}

// TestUpdateCPUIdle: update --cpu-idle (runc's flag) sets cpu.idle where
// the cpu controller is on the cgroup2 mount, and otherwise fails naming
// the field; a value other than 0 or 1 is refused.
func TestUpdateCPUIdle(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "sleep", "1000"))
	e.must("start", id)
	e.fails("linux.resources.cpu.idle: 2 is not 0 or 1", "update", "--cpu-idle", "2", id)
	available, _ := cgroups.Controllers(cgroupRoot)
	if !slices.Contains(available, "cpu") {
		e.fails("linux.resources.cpu.idle: the cpu controller is not available", "update", "--cpu-idle", "1", id)
		return
	}
	e.must("update", "--cpu-idle", "1", id)
	data, _ := os.ReadFile(filepath.Join(cgroupRoot, "kan", id, "cpu.idle"))
	if strings.TrimSpace(string(data)) != "1" {
		t.Errorf("cpu.idle after update --cpu-idle 1: %q", data)
	}
}

// TestExecCgroupForms: exec --cgroup takes runc's forms, path or
// ctrl[,ctrl]:path, repeatable; cgroup v2 has one hierarchy, so
// controllers given different paths are refused, as are the forms runc
// refuses.
func TestExecCgroupForms(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "sleep", "1000"))
	e.must("start", id)
	if err := os.Mkdir(filepath.Join(cgroupRoot, "kan", id, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--cgroup", "sub"},
		{"--cgroup", "memory,pids:sub"},
		{"--cgroup", "memory:sub", "--cgroup", "pids:sub"},
	} {
		r := e.must(append(append([]string{"exec"}, args...), id, "grep", "^0::", "/proc/self/cgroup")...)
		if r.stdout != "0::/sub\n" {
			t.Errorf("exec %v: in %q, want /sub", args, r.stdout)
		}
	}
	e.fails("every controller must be given the same path", "exec", "--cgroup", "memory:sub", "--cgroup", "pids:/", id, "true")
	e.fails("empty <controller> prefix", "exec", "--cgroup", ":sub", id, "true")
	e.fails("controller pids given more than once", "exec", "--cgroup", "pids:sub", "--cgroup", "pids:sub", id, "true")
	e.fails("must be the only --cgroup", "exec", "--cgroup", "sub", "--cgroup", "pids:sub", id, "true")
}

// TestDebugLog: --debug logs each step of create, start, exec and delete
// at level debug, in --log-format, to --log: which init runs and why, the
// namespaces, the mounts, the cgroup, the hooks. Without --debug there is
// no debug line, and a default config (runc spec's: ambient capabilities
// without inheritable ones) logs nothing at all.
func TestDebugLog(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sleep", "1000")
	b.Spec.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true", Args: []string{"true", "poststart-hook"}}}}
	log := filepath.Join(t.TempDir(), "log")
	debug := []string{"--debug", "--log", log, "--log-format", "json"}
	id := newID(t)
	e.must(append(debug, "create", "--bundle", b.write(t), id)...)
	t.Cleanup(func() { e.kan("delete", "--force", id) })
	e.must(append(debug, "start", id)...)
	e.must(append(debug, "exec", id, "true")...)
	e.must(append(debug, "delete", "--force", id)...)

	data, _ := os.ReadFile(log)
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if entry["level"] != "debug" {
			t.Errorf("not a debug line: %q", line)
		}
		msgs = append(msgs, line)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`"msg":"create: config"`, `"namespaces":"pid network ipc uts mount cgroup"`,
		`"msg":"create: init is the C init stage`,
		`"msg":"create: mount"`, `"destination":"/proc"`,
		`"msg":"create: cgroup made`,
		`"msg":"start: releasing the init`,
		`"kind":"poststart"`, `"poststart-hook"`,
		`"msg":"exec: joining the init's namespaces`, `"msg":"exec: the program runs"`,
		`"msg":"delete: SIGKILL to the init"`, `"msg":"delete: cgroup emptied and removed"`, `"msg":"delete: state directory removed"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("debug log lacks %s:\n%s", want, all)
		}
	}

	// The Go init, and why, in the text format.
	log = filepath.Join(t.TempDir(), "log")
	r := e.kan("--debug", "--log", log, "run", "--no-pivot", "--bundle", newBundle(t, "true").write(t), newID(t))
	if r.code != 0 {
		t.Fatalf("run --no-pivot: %v", r)
	}
	data, _ = os.ReadFile(log)
	if !strings.Contains(string(data), `level=debug msg="create: init is the Go init, which builds the rootfs inside" why="--no-pivot`) {
		t.Errorf("text debug log of run --no-pivot lacks the Go init and why:\n%s", data)
	}

	// Without --debug, nothing: no debug line, and no warning about the
	// default config's ambient capabilities.
	log = filepath.Join(t.TempDir(), "log")
	r = e.kan("--log", log, "run", "--bundle", newBundle(t, "true").write(t), newID(t))
	data, _ = os.ReadFile(log)
	if r.code != 0 || len(data) != 0 || r.stderr != "" {
		t.Errorf("run without --debug: %v, log %q; want nothing logged", r, data)
	}
}
