package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// forwardable are the signals kan run passes on: all of 1-31 but those it
// cannot catch (KILL, STOP), those about itself (CHLD: its children;
// URG: the Go runtime's preemption signal) and PROF, which the Go runtime
// keeps for its profiler and never hands to os/signal (runc, also Go, has
// the same limit).
func forwardable() []syscall.Signal {
	var sigs []syscall.Signal
	for s := syscall.Signal(1); s <= 31; s++ {
		switch s {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPROF:
			continue
		}
		sigs = append(sigs, s)
	}
	return sigs
}

// startRun starts `kan run` in the background with its stdout in a file.
func (e *env) startRun(b *bundle, id string) (*exec.Cmd, string) {
	e.t.Helper()
	cmd := exec.Command(kanBin, "--root", e.root, "run", "--bundle", b.write(e.t), id)
	out := filepath.Join(e.t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	// A test that fails half-way must not leave kan run and its
	// container behind.
	e.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		e.kan("delete", "--force", id)
	})
	return cmd, out
}

func waitOutput(t *testing.T, path, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%q in the output", want), func() bool {
		data, _ := os.ReadFile(path)
		return strings.Contains(string(data), want)
	})
}

// TestRunForwardsEverySignal sends kan run each catchable signal in turn;
// the container's init (pid 1 of its namespace, so it gets only what it
// traps) must see every one. Then SIGKILL from kan kill: run exits 137.
func TestRunForwardsEverySignal(t *testing.T) {
	e := newEnv(t)
	var script strings.Builder
	for _, s := range forwardable() {
		fmt.Fprintf(&script, "trap 'echo got-%d' %d; ", s, s)
	}
	script.WriteString("echo ready; while :; do sleep 0.02; done")
	id := newID(t)
	cmd, out := e.startRun(newBundle(t, "sh", "-c", script.String()), id)
	waitOutput(t, out, "ready")
	for _, s := range forwardable() {
		if err := cmd.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
		waitOutput(t, out, fmt.Sprintf("got-%d\n", s))
	}
	e.must("kill", id, "KILL")
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 128+9 {
		data, _ := os.ReadFile(out)
		t.Fatalf("kan run of a killed container: exit %d, want 137; output %q", code, data)
	}
	e.assertGone(id)
	t.Logf("%d signals forwarded", len(forwardable()))
}

// withoutPidNS makes the container share kan's pid namespace: its init is
// then an ordinary process, killed by signals it does not handle, and its
// orphans are reparented outside it.
func withoutPidNS(s *specs.Spec) {
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.PIDNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
}

// TestRunReportsSignalExit: a container init killed by signal n makes kan
// run exit 128+n, for a few n.
func TestRunReportsSignalExit(t *testing.T) {
	e := newEnv(t)
	for _, s := range []syscall.Signal{syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGSEGV, syscall.SIGINT} {
		b := newBundle(t, "sh", "-c", fmt.Sprintf("kill -%d $$; sleep 10", s))
		withoutPidNS(b.Spec)
		if r := e.run(b); r.code != 128+int(s) {
			t.Errorf("init killed by %v: kan run exit %d, want %d (%v)", s, r.code, 128+int(s), r)
		}
	}
}

// TestRunSubreaper: kan run is the subreaper of the container's orphans.
// Without a pid namespace, a process the init abandons is reparented to
// kan run, which reaps it when it exits (no zombie), and kan run still
// reports the init's own status.
func TestRunSubreaper(t *testing.T) {
	e := newEnv(t)
	// The init leaves two orphans (a sleep that runs until the test
	// kills it, a true that ends at once) and runs until kan run
	// forwards it a SIGTERM.
	b := newBundle(t, "sh", "-c", "trap 'exit 3' TERM; (sleep 1000 &); (true &); echo ready; while :; do sleep 0.05; done")
	withoutPidNS(b.Spec)
	id := newID(t)
	cmd, out := e.startRun(b, id)
	waitOutput(t, out, "ready")
	kan := cmd.Process.Pid
	children := func() (orphans []int, zombies []int) {
		entries, _ := os.ReadDir("/proc")
		for _, ent := range entries {
			pid, err := strconv.Atoi(ent.Name())
			if err != nil {
				continue
			}
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				continue
			}
			s := string(data)
			f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
			if f[1] != strconv.Itoa(kan) {
				continue
			}
			if f[0] == "Z" {
				zombies = append(zombies, pid)
			} else if strings.Contains(s, "(sleep)") {
				orphans = append(orphans, pid)
			}
		}
		return
	}
	// The abandoned sleep is kan's child now (the init's sleeps are the
	// init's). It may still be the forked shell, not yet sleep, for a
	// moment after "ready".
	var orphan int
	waitFor(t, "the container's orphan reparented to kan run", func() bool {
		orphans, _ := children()
		if len(orphans) > 0 {
			orphan = orphans[0]
		}
		return orphan != 0
	})
	// Ended, it is reaped, as the true was: no zombie stays.
	syscall.Kill(orphan, syscall.SIGKILL)
	waitFor(t, "kan run to reap its orphans", func() bool {
		_, zombies := children()
		_, err := os.Stat(fmt.Sprintf("/proc/%d", orphan))
		return len(zombies) == 0 && err != nil
	})
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Fatalf("kan run: exit %d, want the init's 3", code)
	}
	e.assertGone(id)
}

// TestExhaustionDoesNotAffectKan: one container fills its /dev/shm,
// another forks until its RLIMIT_NPROC stops it (pids.max cannot be set on
// this hybrid-cgroup host; the VM tests cover it). Meanwhile other
// containers are created, exec'd into and deleted normally, the host's
// /dev/shm is untouched, and both hogs are then deleted without leaks.
func TestExhaustionDoesNotAffectKan(t *testing.T) {
	e := newEnv(t)
	mounts := hostMounts(t)
	var hostShm syscall.Statfs_t
	syscall.Statfs("/dev/shm", &hostShm)

	shm := newBundle(t, "sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=1024 2>/dev/null; echo filled; sleep 1000")
	shmID := newID(t)
	e.must("run", "-d", "--bundle", shm.write(t), shmID)
	t.Cleanup(func() { e.kan("delete", "--force", shmID) })

	// The init (sleep) stays; the bomb is an exec'd shell that forks
	// sleeps until RLIMIT_NPROC makes fork fail (busybox sh then exits).
	bomb := newBundle(t, "sleep", "1000")
	uid := idleUID(t)
	bomb.Spec.Process.User = specs.User{UID: uid, GID: uid}
	bomb.Spec.Process.Rlimits = append(bomb.Spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NPROC", Soft: 200, Hard: 200})
	bombID := newID(t)
	e.must("run", "-d", "--bundle", bomb.write(t), bombID)
	t.Cleanup(func() { e.kan("delete", "--force", bombID) })
	e.must("exec", "-d", bombID, "sh", "-c", "while :; do sleep 1000 & done")
	waitFor(t, "the fork bomb to hit its limit", func() bool { return len(procsInCgroup(bombID)) >= 150 })

	start := time.Now()
	for i := 0; i < 5; i++ {
		id := e.running(sleeper(t))
		if r := e.must("exec", id, "echo", "ok"); r.stdout != "ok\n" {
			t.Fatalf("exec during exhaustion: %v", r)
		}
		e.must("delete", "--force", id)
		e.assertGone(id)
	}
	t.Logf("5 create/start/exec/delete during exhaustion: %v; bomb has %d processes", time.Since(start).Round(time.Millisecond), len(procsInCgroup(bombID)))
	r := e.must("exec", shmID, "wc", "-c", "/dev/shm/fill")
	t.Logf("the container's /dev/shm/fill: %s", strings.TrimSpace(r.stdout))
	var now syscall.Statfs_t
	syscall.Statfs("/dev/shm", &now)
	if diff := int64(hostShm.Bfree) - int64(now.Bfree); diff*int64(now.Bsize) > 16<<20 {
		t.Errorf("the host's /dev/shm lost %d bytes", diff*int64(now.Bsize))
	}
	e.must("delete", "--force", shmID)
	e.must("delete", "--force", bombID)
	e.assertNoLeak(shmID, 0, 0, "")
	e.assertNoLeak(bombID, 0, 0, "")
	if diff := mountDiff(mounts, hostMounts(t)); len(diff) > 0 {
		t.Fatalf("host mount table changed: %v", diff)
	}
}

// TestExecForwardsEverySignal: the same for kan exec, whose process is not
// a pid namespace's init (so only trapped signals leave it alive).
func TestExecForwardsEverySignal(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	var script strings.Builder
	for _, s := range forwardable() {
		fmt.Fprintf(&script, "trap 'echo got-%d' %d; ", s, s)
	}
	script.WriteString("echo ready; while :; do sleep 0.02; done")
	cmd := exec.Command(kanBin, "--root", e.root, "exec", id, "sh", "-c", script.String())
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitOutput(t, out, "ready")
	for _, s := range forwardable() {
		cmd.Process.Signal(s)
		waitOutput(t, out, fmt.Sprintf("got-%d\n", s))
	}
	e.must("kill", "--all", id, "KILL")
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 128+9 {
		t.Fatalf("kan exec of a killed process: exit %d, want 137", code)
	}
}

// TestCallersSignalMask: kan run and kan exec in the foreground block
// every signal from their start, for forwarding (libcontainer/nsenter,
// sigmask.go); the container's process, the hooks kan runs and the
// process kan exec adds must still get the signal mask kan's caller gave
// kan, as they do from runc. The caller here blocks SIGUSR2 and SIGWINCH
// (perl is in every Debian system: perl-base).
func TestCallersSignalMask(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed")
	}
	const want = "0000000008000800" // signals 12 and 28
	e := newEnv(t)
	masked := func(args ...string) *exec.Cmd {
		perl := []string{"-MPOSIX", "-e", "sigprocmask(SIG_BLOCK, POSIX::SigSet->new(12, 28)) or die; exec @ARGV",
			kanBin, "--root", e.root}
		return exec.Command("perl", append(perl, args...)...)
	}
	logDir := t.TempDir()
	// busybox's sh keeps the mask it is given (dash clears it).
	hook := func(name string) []specs.Hook {
		return []specs.Hook{{Path: busybox, Args: []string{"sh", "-c", "grep SigBlk /proc/self/status >" + filepath.Join(logDir, name)}}}
	}
	b := newBundle(t, "sh", "-c", "grep SigBlk /proc/self/status")
	b.Spec.Hooks = &specs.Hooks{Prestart: hook("prestart"), CreateRuntime: hook("createRuntime"),
		Poststart: hook("poststart"), Poststop: hook("poststop")}
	id := newID(t)
	out, err := masked("run", "--bundle", b.write(t), id).CombinedOutput()
	if err != nil {
		t.Fatalf("kan run: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "SigBlk:\t"+want {
		t.Errorf("kan run: the container's process has %q, want the caller's mask %s", got, want)
	}
	for _, kind := range []string{"prestart", "createRuntime", "poststart", "poststop"} {
		data, err := os.ReadFile(filepath.Join(logDir, kind))
		if got := strings.TrimSpace(string(data)); err != nil || got != "SigBlk:\t"+want {
			t.Errorf("kan run: the %s hook has %q (%v), want the caller's mask %s", kind, got, err, want)
		}
	}
	e.assertGone(id)

	id = e.create(newBundle(t, "sleep", "1000"))
	e.must("start", id)
	out, err = masked("exec", id, "grep", "SigBlk", "/proc/self/status").CombinedOutput()
	if got := strings.TrimSpace(string(out)); err != nil || got != "SigBlk:\t"+want {
		t.Errorf("kan exec: the process has %q (%v), want the caller's mask %s", got, err, want)
	}
}

// TestRunSurvivesClosedStderr: kan run in the foreground with --debug
// writes its log to a stderr whose reader is gone. The writes fail with
// EPIPE; kan must not die of the SIGPIPE the runtime raises for them
// (it would leave its container behind), but run the container to its
// end and delete it.
func TestRunSurvivesClosedStderr(t *testing.T) {
	e := newEnv(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	id := newID(t)
	cmd := exec.Command(kanBin, "--root", e.root, "--debug", "run", "--bundle", newBundle(t, "true").write(t), id)
	cmd.Stderr = w
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kan run with its stderr's reader gone: %v (stdout %q)", err, out)
	}
	e.assertGone(id)
}
