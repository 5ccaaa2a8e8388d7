package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
)

// commandLimit is how long any one command may take against a paused
// container before the test calls it a deadlock.
const commandLimit = 10 * time.Second

// background is a kan command left running while the test does more.
type background struct {
	args    []string
	cmd     *exec.Cmd
	started time.Time
	done    chan result
}

// start runs kan with args in the background. Output goes to files, as
// with kanIn. The test's cleanup kills it if it is still running.
func (e *env) start(args ...string) *background {
	e.t.Helper()
	dir := e.t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		e.t.Fatal(err)
	}
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(kanBin, append([]string{"--root", e.root}, args...)...)
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	b := &background{args: args, cmd: cmd, started: time.Now(), done: make(chan result, 1)}
	go func() {
		err := cmd.Wait()
		out.Close()
		errf.Close()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		stdout, _ := os.ReadFile(out.Name())
		stderr, _ := os.ReadFile(errf.Name())
		b.done <- result{string(stdout), string(stderr), code}
	}()
	e.t.Cleanup(func() { cmd.Process.Kill() })
	return b
}

// wait returns the command's result, or fails the test if it has not
// finished within commandLimit of its start.
func (b *background) wait(t *testing.T) result {
	t.Helper()
	select {
	case r := <-b.done:
		return r
	case <-time.After(time.Until(b.started.Add(commandLimit))):
		b.cmd.Process.Kill()
		t.Fatalf("kan %v did not finish within %v: %v", b.args, commandLimit, <-b.done)
		return result{}
	}
}

// waitCgroupProcs waits until the container's cgroup holds n processes: an
// exec into a frozen container has its process there, frozen.
func waitCgroupProcs(t *testing.T, id string, n int) {
	t.Helper()
	dir := filepath.Join(cgroupRoot, "kan", id)
	waitFor(t, "the exec'd process in the frozen cgroup", func() bool {
		pids, _ := cgroups.Pids(dir)
		return len(pids) >= n
	})
}

// paused starts a sleeper and pauses it. Should a command under test hang
// on the container's lock, the cleanup thaws the cgroup by hand first, so
// that the forced delete is not held up by it too.
func (e *env) paused() string {
	e.t.Helper()
	id := e.running(sleeper(e.t))
	e.t.Cleanup(func() {
		os.WriteFile(filepath.Join(cgroupRoot, "kan", id, "cgroup.freeze"), []byte("0"), 0)
	})
	e.must("pause", id)
	return id
}

// TestExecIgnorePausedThenResume: exec --ignore-paused into a paused
// container waits in the frozen cgroup; a resume from another shell
// thaws it and the exec finishes, as with runc. kan exec used to hold the
// container's lock while it waited, and resume waited for the lock.
func TestExecIgnorePausedThenResume(t *testing.T) {
	e := newEnv(t)
	id := e.paused()
	r := e.fails("cannot exec in a paused container", "exec", id, "echo", "ok")
	if !strings.Contains(r.stderr, "--ignore-paused") {
		t.Errorf("plain exec into a paused container: %v", r)
	}

	ex := e.start("exec", "--ignore-paused", id, "echo", "ok")
	waitCgroupProcs(t, id, 2) // the init and the exec's process
	if r := e.start("resume", id).wait(t); r.code != 0 {
		t.Fatalf("resume: %v", r)
	}
	if r := ex.wait(t); r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("exec --ignore-paused after resume: %v", r)
	}
	if s := e.status(id); s != "running" {
		t.Fatalf("status after resume: %q", s)
	}
}

// TestPausedCommandPairs runs every pair of commands at the same time
// against a paused container: none may wait on the other. An exec
// --ignore-paused goes first and gets its process into the frozen cgroup
// before the other starts, which is when it could hold up others; then a
// resume (bounded too) lets it finish.
func TestPausedCommandPairs(t *testing.T) {
	resources := writeTemp(t, "{}")
	const execIgnorePaused = "exec-ignore-paused"
	commands := []struct {
		name string
		args func(id string) []string
	}{
		{execIgnorePaused, func(id string) []string { return []string{"exec", "--ignore-paused", id, "echo", "ok"} }},
		{"exec", func(id string) []string { return []string{"exec", id, "echo", "ok"} }},
		{"pause", func(id string) []string { return []string{"pause", id} }},
		{"resume", func(id string) []string { return []string{"resume", id} }},
		{"kill", func(id string) []string { return []string{"kill", id, "KILL"} }},
		{"state", func(id string) []string { return []string{"state", id} }},
		{"ps", func(id string) []string { return []string{"ps", id} }},
		{"update", func(id string) []string { return []string{"update", "--resources", resources, id} }},
		{"delete-force", func(id string) []string { return []string{"delete", "--force", id} }},
	}
	for i, a := range commands {
		for _, b := range commands[i:] {
			t.Run(a.name+"+"+b.name, func(t *testing.T) {
				e := newEnv(t)
				id := e.paused()
				var execs, others []*background
				for n, c := range []string{a.name, b.name} {
					args := a.args(id)
					if n == 1 {
						args = b.args(id)
					}
					bg := e.start(args...)
					if c != execIgnorePaused {
						others = append(others, bg)
						continue
					}
					execs = append(execs, bg)
					waitCgroupProcs(t, id, 1+len(execs))
				}
				for _, bg := range others {
					if r := bg.wait(t); r.code == -1 {
						t.Fatalf("kan %v: %v", bg.args, r)
					}
				}
				e.start("resume", id).wait(t) // may fail: already running, or gone
				for _, bg := range execs {
					bg.wait(t)
				}
			})
		}
	}
}
