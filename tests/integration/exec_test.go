package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// running creates and starts a container whose init sleeps, and returns
// its id. The test's cleanup deletes it.
func (e *env) running(b *bundle) string {
	e.t.Helper()
	id := e.create(b)
	e.must("start", id)
	e.waitStatus(id, "running")
	return id
}

func sleeper(t *testing.T) *bundle {
	return newBundle(t, "sleep", "1000")
}

func TestExecOutputAndExitCode(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	r := e.kan("exec", id, "sh", "-c", "echo out; echo err >&2; exit 7")
	if r.code != 7 || r.stdout != "out\n" || !strings.Contains(r.stderr, "err") {
		t.Fatalf("exec: %v", r)
	}
	// The command's own flags are not kan's.
	r = e.must("exec", id, "sh", "-c", "echo -n pid1=; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo self=$$")
	if !strings.Contains(r.stdout, "pid1=sleep 1000") {
		t.Fatalf("exec does not see the init as pid 1: %v", r)
	}
	// Killed by a signal: 128+n, as a shell reports it.
	if r := e.kan("exec", id, "sh", "-c", "kill -9 $$"); r.code != 137 {
		t.Fatalf("exec killed by SIGKILL: %v, want exit 137", r)
	}
	// A program that does not exist is an error of exec itself: 255,
	// as with runc.
	r = e.fails("/no/such/program", "exec", id, "/no/such/program")
	if r.code != 255 {
		t.Fatalf("exec of a missing program: %v", r)
	}
}

func TestExecFlags(t *testing.T) {
	e := newEnv(t)
	b := sleeper(t)
	b.Spec.Process.Env = append(b.Spec.Process.Env, "FROMCONFIG=1", "OVERRIDE=old")
	b.Spec.Process.NoNewPrivileges = false
	id := e.running(b)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"env kept and added", []string{"-e", "NEW=x", "--env", "OVERRIDE=new", "sh", "-c", "echo $FROMCONFIG $NEW $OVERRIDE"}, []string{"1 x new"}},
		{"cwd", []string{"--cwd", "/tmp", "pwd"}, []string{"/tmp"}},
		{"user", []string{"-u", "1000:2000", "id"}, []string{"uid=1000(user) gid=2000(extra)"}},
		{"user without gid", []string{"--user", "1000", "id", "-g"}, []string{"0"}},
		{"additional gids", []string{"-u", "1000:1000", "-g", "2000", "--additional-gids", "3000", "sh", "-c", "grep Groups /proc/self/status"}, []string{"2000 3000"}},
		// The config's CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE
		// plus CAP_NET_RAW and CAP_SYS_ADMIN.
		{"cap", []string{"--cap", "CAP_NET_RAW", "-c", "sys_admin", "grep", "CapEff", "/proc/self/status"}, []string{"CapEff:\t0000000020202420"}},
		{"config's no new privs", []string{"grep", "NoNewPrivs", "/proc/self/status"}, []string{"NoNewPrivs:\t0"}},
		{"no new privs", []string{"--no-new-privs", "grep", "NoNewPrivs", "/proc/self/status"}, []string{"NoNewPrivs:\t1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.must(append(append([]string{"exec"}, c.args[:len(c.args)-len(cmdOf(c.args))]...), append([]string{id}, cmdOf(c.args)...)...)...)
			for _, w := range c.want {
				if !strings.Contains(r.stdout, w) {
					t.Fatalf("exec %v: %q does not contain %q", c.args, r.stdout, w)
				}
			}
		})
	}
	// LSMs the host lacks are refused, naming the flag's field. Where
	// AppArmor runs, the process gets the profile asked for, and one
	// AppArmor has not loaded is refused. Whether an SELinux label is
	// valid depends on the host's policy: not tried where SELinux runs.
	if hostAppArmor() {
		if r := e.must("exec", "--apparmor", "unconfined", id, "cat", "/proc/self/attr/current"); !strings.HasPrefix(r.stdout, "unconfined") {
			t.Errorf("exec --apparmor unconfined: the process runs under %q", r.stdout)
		}
		e.fails("process.apparmorProfile", "exec", "--apparmor", "kan-test", id, "true")
	} else {
		e.fails("process.apparmorProfile", "exec", "--apparmor", "unconfined", id, "true")
	}
	if !hostSELinux() {
		e.fails("process.selinuxLabel", "exec", "--process-label", "system_u:system_r:container_t:s0", id, "true")
	}
	e.fails("--user", "exec", "-u", "root", id, "true")
	e.fails("--env", "exec", "-e", "NOEQUALS", id, "true")
}

// cmdOf returns the command part of a flag list: from the first word that
// is not a flag or a flag's value.
func cmdOf(args []string) []string {
	withValue := map[string]bool{"-e": true, "--env": true, "--cwd": true, "-u": true, "--user": true, "-g": true,
		"--additional-gids": true, "--cap": true, "-c": true}
	for i := 0; i < len(args); i++ {
		if withValue[args[i]] {
			i++
			continue
		}
		if !strings.HasPrefix(args[i], "-") {
			return args[i:]
		}
	}
	return nil
}

func TestExecProcessJSON(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	p := specs.Process{
		Args: []string{"sh", "-c", "id -u; pwd; echo $ONLY; umask; grep -E 'CapBnd|NoNewPrivs' /proc/self/status"},
		Env:  []string{"ONLY=fromjson", "PATH=/bin"},
		Cwd:  "/etc",
		User: specs.User{UID: 1000, GID: 1000, Umask: ptrU32(0o027)},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL"},
		},
		NoNewPrivileges: true,
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456}},
	}
	data, _ := json.Marshal(p)
	path := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(path, data, 0o644)
	r := e.must("exec", "--process", path, id)
	want := "1000\n/etc\nfromjson\n0027\nCapBnd:\t0000000000000020\nNoNewPrivs:\t1\n"
	if r.stdout != want {
		t.Fatalf("exec --process: got %q, want %q", r.stdout, want)
	}
	p.Args = []string{"sh", "-c", "ulimit -n; ulimit -Hn"}
	data, _ = json.Marshal(p)
	os.WriteFile(path, data, 0o644)
	if r := e.must("exec", "-p", path, id); r.stdout != "123\n456\n" {
		t.Fatalf("exec --process rlimits: %q", r.stdout)
	}
	os.WriteFile(path, []byte(`{"args": [`), 0o644)
	e.fails("--process", "exec", "--process", path, id)
	e.fails("--process", "exec", "--process", "/no/such/file.json", id)
}

func ptrU32(v uint32) *uint32 { return &v }

// TestExecLookupsInside: the process exec adds finds its home and its
// program from inside the container, as the init does: the container's
// /etc/passwd and PATH, relative PATH entries from its working directory,
// a magic link in /proc as the program, and an /etc/passwd that is a fifo
// neither hangs nor counts.
func TestExecLookupsInside(t *testing.T) {
	e := newEnv(t)
	fifo := filepath.Join(t.TempDir(), "passwd")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	b := sleeper(t)
	id := e.running(b)

	// HOME: the passwd entry of the uid (the test rootfs has user 1000
	// with /home/user), "/" without one, the process's own if it has one.
	if r := e.must("exec", "-u", "1000", id, "sh", "-c", "echo $HOME"); r.stdout != "/home/user\n" {
		t.Errorf("HOME of uid 1000: %q", r.stdout)
	}
	if r := e.must("exec", "-u", "4242", id, "sh", "-c", "echo $HOME"); r.stdout != "/\n" {
		t.Errorf("HOME of uid 4242 (no entry): %q", r.stdout)
	}
	if r := e.must("exec", "-u", "1000", "-e", "HOME=/mine", id, "sh", "-c", "echo $HOME"); r.stdout != "/mine\n" {
		t.Errorf("HOME given: %q", r.stdout)
	}

	// PATH: searched in order, a relative entry from the cwd, a missing
	// program named with the PATH searched.
	if r := e.must("exec", "-e", "PATH=/nope:bin", "--cwd", "/", id, "sh", "-c", "echo found"); r.stdout != "found\n" {
		t.Errorf("relative PATH entry: %q", r.stdout)
	}
	if r := e.fails("not found in $PATH (/bin:/usr/bin)", "exec", "-e", "PATH=/bin:/usr/bin", id, "nosuch"); !strings.Contains(r.stderr, "nosuch") {
		t.Errorf("a missing program is not named: %v", r)
	}

	// A program named through /proc/self/fd: busybox, preserved as fd 3,
	// runs (and, called "3", says it has no such applet).
	bb, err := os.Open(filepath.Join(rootfsDir, "bin", "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	r := e.kanIn("", []*os.File{bb}, "exec", "--preserve-fds", "1", id, "/proc/self/fd/3")
	if !strings.Contains(r.stderr, "applet not found") {
		t.Errorf("exec /proc/self/fd/3: %v", r)
	}

	// /etc/passwd a fifo: ignored at once, as a missing one, by the init
	// (whose create hung on it before) and by exec.
	b2 := sleeper(t)
	b2.Spec.Mounts = append(b2.Spec.Mounts, specs.Mount{Destination: "/etc/passwd", Type: "bind", Source: fifo, Options: []string{"bind"}})
	id2 := e.running(b2)
	done := make(chan result, 1)
	go func() { done <- e.kan("exec", "-u", "1000", id2, "sh", "-c", "echo $HOME") }()
	select {
	case r := <-done:
		if r.code != 0 || r.stdout != "/\n" {
			t.Errorf("exec with a fifo as /etc/passwd: %v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("exec hangs on a fifo as /etc/passwd")
	}
}

// TestExecRefusals: ids the kernel would read as "unchanged" are refused
// (the process would stay root), and an error longer than a sync message
// still arrives as an error, never as a started program.
func TestExecRefusals(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	e.fails("process.user.uid", "exec", "-u", "4294967295", id, "id")
	e.fails("process.user.gid", "exec", "-u", "0:4294967295", id, "id")
	e.fails("process.user.additionalGids", "exec", "-g", "4294967295", id, "id")
	// 700 newlines: 4,200 bytes once escaped, over the stage's line.
	cwd := "/" + strings.Repeat("a\n", 700)
	e.fails("process.cwd", "exec", "--cwd", cwd, id, "true")
}

// TestExecProcessFields: every field of TestProcessFields, given to exec
// --process in a container made with the same config, is seen the same
// way by the process exec adds. That process gets each attribute from
// kan exec's plan (none is inherited from the init).
func TestExecProcessFields(t *testing.T) {
	e := newEnv(t)
	for _, c := range processFieldCases(t) {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			b := sleeper(t)
			c.edit(b.Spec)
			id := e.running(b)
			p := *b.Spec.Process
			p.Args = []string{"sh", "-c", c.script}
			data, _ := json.Marshal(p)
			path := filepath.Join(t.TempDir(), "process.json")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			c.check(t, e.must("exec", "--process", path, id).stdout)
		})
	}
}

func TestExecUserNamespace(t *testing.T) {
	e := newEnv(t)
	b := sleeper(t)
	withUserNS(b.Spec)
	id := e.running(b)
	r := e.must("exec", id, "sh", "-c", "cat /proc/self/uid_map; id -u; touch /tmp/x 2>&1; readlink /proc/1/exe")
	if !strings.Contains(r.stdout, "0     100000      65536") || !strings.Contains(r.stdout, "\n0\n") {
		t.Fatalf("exec in a user namespace: %v", r)
	}
	// Seen from the host, the process runs as the mapped uid.
	r = e.must("exec", "-d", "--pid-file", filepath.Join(t.TempDir(), "pid"), id, "sleep", "5")
	_ = r
	pids := containerPids(t, e, id)
	found := false
	for _, pid := range pids {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "Uid:") && strings.Fields(l)[1] == "100000" {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no process of the container runs as host uid 100000 (pids %v)", pids)
	}
}

// containerPids lists the pids in the container's cgroup.
func containerPids(t *testing.T, e *env, id string) []int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cgroupRoot, "kan", id, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
	}
	return pids
}

func TestExecDetachPidFileAndCgroup(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	e.must("exec", "--detach", "--pid-file", pidFile, id, "sleep", "100")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(data))
	if !containsInt(containerPids(t, e, id), pid) {
		t.Fatalf("exec'd pid %d not in the container's cgroup", pid)
	}
	if entries, _ := os.ReadDir(filepath.Dir(pidFile)); len(entries) != 1 {
		t.Fatalf("pid file directory holds %d entries, want only the pid file", len(entries))
	}

	// --cgroup: a sub-cgroup of the container's.
	sub := filepath.Join(cgroupRoot, "kan", id, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// The container has its own cgroup namespace: its cgroup is "/".
	r := e.must("exec", "--cgroup", "sub", id, "grep", "^0::", "/proc/self/cgroup")
	if r.stdout != "0::/sub\n" {
		t.Fatalf("exec --cgroup sub: %q", r.stdout)
	}
	e.fails("--cgroup", "exec", "--cgroup", "../..", id, "true")
	e.fails("cgroup", "exec", "--cgroup", "missing", id, "true")
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestExecPreserveFdsAndNoLeaks(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	r := e.must("exec", id, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '")
	if r.stdout != "0 1 2 3 " {
		t.Fatalf("fds of an exec'd process: %q, want only stdio and ls's own", r.stdout)
	}
	f, err := os.Open(kanBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r = e.kanIn("", []*os.File{f}, "exec", "--preserve-fds", "1", id, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '")
	if r.code != 0 || r.stdout != "0 1 2 3 4 " {
		t.Fatalf("exec --preserve-fds 1: %v", r)
	}
	// The cwd is inside the container, not a host directory.
	r = e.must("exec", id, "sh", "-c", "pwd; readlink /proc/self/cwd; readlink /proc/self/root")
	if r.stdout != "/\n/\n/\n" {
		t.Fatalf("cwd and root of an exec'd process: %q", r.stdout)
	}
}

func TestExecForwardsSignals(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	cmd := exec.Command(kanBin, "--root", e.root, "exec", id, "sh", "-c", "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done")
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "exec'd shell ready", func() bool {
		data, _ := os.ReadFile(out.Name())
		return strings.Contains(string(data), "ready")
	})
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	data, _ := os.ReadFile(out.Name())
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.Contains(string(data), "got-term") {
		t.Fatalf("SIGTERM to kan exec: err %v, output %q; want exit 3 and got-term", err, data)
	}
}

func TestExecTerminal(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	recvtty := os.Getenv("RECVTTY_BINARY")
	if recvtty == "" {
		t.Fatal("RECVTTY_BINARY is not set (make integration sets it)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "tty.sock")
	pidFile := filepath.Join(dir, "recvtty.pid")
	tty := exec.Command(recvtty, "-no-stdin", "-pid-file", pidFile, sock)
	outFile, _ := os.Create(filepath.Join(dir, "tty.out"))
	tty.Stdout = outFile
	if err := tty.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tty.Process.Kill(); tty.Wait() }()
	// The pid file is written once recvtty listens (the socket file
	// exists a moment earlier, when a connect is still refused).
	waitFor(t, "recvtty to listen", func() bool { _, err := os.Stat(pidFile); return err == nil })
	// A short-lived program: nothing it writes may be lost.
	e.must("exec", "-t", "-d", "--console-socket", sock, id, "sh", "-c", "tty; echo tty-exec-done")
	if err := tty.Wait(); err != nil {
		t.Fatalf("recvtty: %v", err)
	}
	data, _ := os.ReadFile(outFile.Name())
	if !strings.Contains(string(data), "/dev/pts/") || !strings.Contains(string(data), "tty-exec-done") {
		t.Fatalf("terminal output through the console socket: %q", data)
	}
	e.fails("--console-socket", "exec", "-d", "-t", id, "true")
	e.fails("--console-socket", "exec", "--console-socket", sock, id, "true")
}

func TestExecConcurrent(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	const n = 50
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = e.kan("exec", id, "sh", "-c", fmt.Sprintf("echo exec-%d", i))
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 || r.stdout != fmt.Sprintf("exec-%d\n", i) {
			t.Errorf("exec %d: %v", i, r)
		}
	}
}

func TestExecStates(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	freeze := filepath.Join(cgroupRoot, "kan", id, "cgroup.freeze")
	if err := os.WriteFile(freeze, []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(id, "paused")
	e.fails("paused", "exec", id, "true")
	// --ignore-paused starts it; it runs (and exec returns) once the
	// container is thawed.
	done := make(chan result, 1)
	go func() { done <- e.kan("exec", "-d", "--ignore-paused", id, "sh", "-c", "echo thawed > /dev/shm/x") }()
	time.Sleep(300 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("exec into a frozen container returned before the thaw: %v", r)
	default:
	}
	os.WriteFile(freeze, []byte("0"), 0)
	if r := <-done; r.code != 0 {
		t.Fatalf("exec --ignore-paused: %v", r)
	}
	e.waitStatus(id, "running")
	if r := e.must("exec", id, "cat", "/dev/shm/x"); r.stdout != "thawed\n" {
		t.Fatalf("exec --ignore-paused did not run: %q", r.stdout)
	}

	// Stopped.
	e.must("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	e.fails("cannot exec in a stopped container", "exec", id, "true")
	e.fails("does not exist", "exec", "no-such-container", "true")
	e.fails("expected a command", "exec", id)
}

// TestExecProcSelfExeAttack: the container replaces its binaries with
// #!/proc/self/exe scripts and waits for an exec (CVE-2019-5736); then it
// tries to write through the /proc/<pid>/exe of every process it sees,
// the exec'd one included. The host's kan must stay the same.
func TestExecProcSelfExeAttack(t *testing.T) {
	e := newEnv(t)
	root := t.TempDir() + "/rootfs"
	copyRootfs(t, root)
	os.WriteFile(root+"/attack.sh", []byte(`
while :; do
  for p in /proc/[0-9]*; do
    echo pwned 2>/dev/null >>$p/exe && echo "WROTE $p" >> /attack.log
  done
done
`), 0o755)
	b := newBundle(t, "sh", "/attack.sh")
	b.Spec.Root.Path = root
	b.Spec.Root.Readonly = false
	b.Spec.Process.Capabilities = allCaps()
	before := fileSum(t, kanBin)
	id := e.running(b)
	// The container's "true" is now the attack's entry point.
	os.Remove(root + "/bin/true")
	os.WriteFile(root+"/bin/true", []byte("#!/proc/self/exe\n"), 0o755)
	for i := 0; i < 10; i++ {
		e.kan("exec", id, "/bin/true")
		e.kan("exec", id, "sh", "-c", "sleep 0.05")
	}
	time.Sleep(100 * time.Millisecond)
	if data, err := os.ReadFile(root + "/attack.log"); err == nil {
		t.Fatalf("the container wrote through /proc/<pid>/exe: %s", data)
	}
	if fileSum(t, kanBin) != before {
		t.Fatal("host kan binary changed")
	}
}
