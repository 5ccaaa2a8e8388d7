package engines

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// cliEngine is Podman or Docker: the same command line, set up
// differently.
type cliEngine struct {
	name  string
	bin   string
	env   []string
	image string
	// global flags for a runtime (podman --runtime PATH, docker -H SOCK).
	global func(rt string) []string
	// flags of `run` for a runtime (docker --runtime NAME, ...).
	runOpts func(rt string) []string
	// the runtime's --root under which the engine keeps its containers.
	stateRoot func(rt string) string
	// how to ask for the update steps, or why they are skipped for every
	// runtime.
	updateMemory []string
	updatePids   []string
	noPidsUpdate string
	statsFormat  string
	// what the user sees when stats cannot read the container's cgroup.
	statsFailure string
}

func (e *cliEngine) cmd(t *testing.T, rt string, args ...string) result {
	t.Helper()
	return command(t, e.env, e.bin, append(e.global(rt), args...)...)
}

func (e *cliEngine) must(t *testing.T, rt string, args ...string) result {
	t.Helper()
	r := e.cmd(t, rt, args...)
	if r.code != 0 {
		t.Fatalf("%s %v: %v", e.name, args, r)
	}
	return r
}

// status is inspect's "Status ExitCode", or "" when there is no such
// container.
func (e *cliEngine) status(t *testing.T, rt, name string) string {
	t.Helper()
	r := e.cmd(t, rt, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)
	if r.code != 0 {
		return ""
	}
	// podman says "stopped" until its cleanup process has run, then
	// "exited"; docker says "exited".
	return strings.Replace(r.out(), "stopped", "exited", 1)
}

func (e *cliEngine) waitStatus(t *testing.T, rt, name, want string) {
	t.Helper()
	got := ""
	waitFor(t, name+" "+want, func() bool {
		got = e.status(t, rt, name)
		if !strings.Contains(want, " ") {
			// the status alone (podman keeps the last exit code
			// while running)
			got, _, _ = strings.Cut(got, " ")
		}
		return got == want
	})
}

// runtimeHas says whether the runtime still has a container with this id
// in its state (after the engine removed it, it must not).
func (e *cliEngine) runtimeHas(t *testing.T, rt, id string) bool {
	t.Helper()
	r := command(t, nil, runtimePath(rt), "--root", e.stateRoot(rt), "list", "-q")
	for _, l := range strings.Fields(r.stdout) {
		if l == id {
			return true
		}
	}
	return false
}

// The long-running container: a shell that exits 7 on SIGTERM, so stop
// is seen to deliver the signal (a plain `sleep` as pid 1 ignores it).
var trapLoop = []string{"sh", "-c", `trap "exit 7" TERM; echo started; while :; do sleep 0.2; done`}

func cliScenario(t *testing.T, e *cliEngine, rt string) {
	run := func(args ...string) []string {
		return append(append([]string{"run"}, e.runOpts(rt)...), args...)
	}
	cat := func(v2, v1 string) string {
		return "cat /sys/fs/cgroup/" + v2 + " 2>/dev/null || cat /sys/fs/cgroup/" + v1
	}

	step(t, "run", func(t *testing.T) {
		r := e.cmd(t, rt, run("--rm", e.image, "sh", "-c", "echo out; echo err >&2; exit 3")...)
		if r.code != 3 || r.stdout != "out\n" || !strings.Contains(r.stderr, "err") {
			t.Fatalf("want exit 3, stdout \"out\\n\", stderr \"err\": %v", r)
		}
	})
	step(t, "run_exits_immediately", func(t *testing.T) {
		name := "x-" + rt
		r := e.cmd(t, rt, run("--name", name, e.image, "true")...)
		if r.code != 0 || r.out() != "" {
			t.Fatalf("want exit 0 and no output: %v", r)
		}
		if st := e.status(t, rt, name); st != "exited 0" {
			t.Errorf("status %q, want \"exited 0\"", st)
		}
		e.must(t, rt, "rm", name)
		if st := e.status(t, rt, name); st != "" {
			t.Errorf("after rm, status %q, want no container", st)
		}
	})
	step(t, "run_tty", func(t *testing.T) {
		args := append(e.global(rt), run("-it", "--rm", e.image, "sh")...)
		interactive(t, startPty(t, e.env, e.bin, args...))
	})

	c := "c-" + rt
	e.must(t, rt, run("-d", "--name", c, e.image, trapLoop[0], trapLoop[1], trapLoop[2])...)
	t.Cleanup(func() { e.cmd(t, rt, "rm", "-f", c) })
	e.waitStatus(t, rt, c, "running 0")
	id := e.must(t, rt, "inspect", "-f", "{{.Id}}", c).out()

	step(t, "exec", func(t *testing.T) {
		if r := e.cmd(t, rt, "exec", c, "echo", "inexec"); r.code != 0 || r.stdout != "inexec\n" {
			t.Errorf("want exit 0 and \"inexec\": %v", r)
		}
		if r := e.cmd(t, rt, "exec", c, "sh", "-c", "echo $$; exit 4"); r.code != 4 || r.out() == "1" {
			t.Errorf("want exit 4 from a new process (not pid 1): %v", r)
		}
	})
	step(t, "exec_tty", func(t *testing.T) {
		args := append(e.global(rt), "exec", "-it", c, "sh")
		interactive(t, startPty(t, e.env, e.bin, args...))
	})
	step(t, "exec_detach", func(t *testing.T) {
		r := e.cmd(t, rt, "exec", "-d", c, "sh", "-c", "echo detached >/tmp/d; exec sleep 1001")
		if r.code != 0 {
			t.Fatalf("exec -d: %v", r)
		}
		waitFor(t, "the detached process's file", func() bool {
			return e.cmd(t, rt, "exec", c, "cat", "/tmp/d").stdout == "detached\n"
		})
	})
	step(t, "top", func(t *testing.T) {
		r := e.must(t, rt, "top", c)
		if !strings.Contains(r.stdout, "sleep 1001") || !strings.Contains(r.stdout, "trap") {
			t.Errorf("top lists neither the exec'd sleep nor the init shell: %v", r)
		}
	})
	step(t, "pause_unpause", func(t *testing.T) {
		e.must(t, rt, "pause", c)
		if st := e.status(t, rt, c); st != "paused 0" {
			t.Errorf("after pause: %q, want \"paused 0\"", st)
		}
		e.must(t, rt, "unpause", c)
		if st := e.status(t, rt, c); st != "running 0" {
			t.Errorf("after unpause: %q, want \"running 0\"", st)
		}
		if r := e.cmd(t, rt, "exec", c, "echo", "thawed"); r.stdout != "thawed\n" {
			t.Errorf("exec after unpause: %v", r)
		}
	})
	step(t, "update_memory", func(t *testing.T) {
		r := e.cmd(t, rt, append(e.updateMemory, c)...)
		if rt == "kan" && !hasController(t, "memory") {
			if r.code == 0 || !strings.Contains(r.stderr, "memory controller is not available") {
				t.Fatalf("kan should refuse naming the memory controller: %v", r)
			}
			t.Skipf("kan refuses (%s): this host's cgroup v2 hierarchy has no memory controller; runc uses the v1 one", firstLine(r.stderr))
		}
		if r.code != 0 {
			t.Fatalf("update: %v", r)
		}
		if got := e.cmd(t, rt, "exec", c, "sh", "-c", cat("memory.max", "memory/memory.limit_in_bytes")).out(); got != "67108864" {
			t.Errorf("the container's memory limit is %q, want 67108864", got)
		}
	})
	step(t, "update_pids", func(t *testing.T) {
		if e.noPidsUpdate != "" {
			t.Skip(e.noPidsUpdate)
		}
		r := e.cmd(t, rt, append(e.updatePids, c)...)
		if rt == "kan" && !hasController(t, "pids") {
			if r.code == 0 || !strings.Contains(r.stderr, "pids controller is not available") {
				t.Fatalf("kan should refuse naming the pids controller: %v", r)
			}
			t.Skipf("kan refuses (%s): this host's cgroup v2 hierarchy has no pids controller; runc uses the v1 one", firstLine(r.stderr))
		}
		if r.code != 0 {
			t.Fatalf("update: %v", r)
		}
		if got := e.cmd(t, rt, "exec", c, "sh", "-c", cat("pids.max", "pids/pids.max")).out(); got != "100" {
			t.Errorf("the container's pids limit is %q, want 100", got)
		}
	})
	step(t, "stats", func(t *testing.T) {
		r := e.cmd(t, rt, "stats", "--no-stream", "--format", e.statsFormat, c)
		kanOnHybrid := rt == "kan" && hybrid()
		if kanOnHybrid && r.code != 0 {
			if !strings.Contains(r.stderr, e.statsFailure) {
				t.Fatalf("stats fails unexpectedly: %v", r)
			}
			t.Skipf("%s stats reads the container's cgroup v1 hierarchies itself; kan puts containers only in the v2 one: %q", e.name, firstLine(r.stderr))
		}
		if r.code != 0 {
			t.Fatalf("stats: %v", r)
		}
		f := strings.Fields(r.stdout)
		if len(f) != 2 || f[0] != c {
			t.Fatalf("stats: want \"%s PIDS\": %v", c, r)
		}
		if n, _ := strconv.Atoi(f[1]); n < 2 {
			if kanOnHybrid {
				t.Skipf("%s stats shows pids %s: it reads the v1 cgroup of the container's pid, and kan puts containers only in the v2 hierarchy", e.name, f[1])
			}
			t.Errorf("stats shows %s pids, want at least 2 (init and the exec'd sleep)", f[1])
		}
	})
	step(t, "restart", func(t *testing.T) {
		before := e.must(t, rt, "inspect", "-f", "{{.State.Pid}}", c).out()
		start := time.Now()
		e.must(t, rt, "restart", "-t", "10", c)
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("restart took %v: SIGTERM did not stop the container", d)
		}
		e.waitStatus(t, rt, c, "running 0")
		if after := e.must(t, rt, "inspect", "-f", "{{.State.Pid}}", c).out(); after == before {
			t.Errorf("restart kept pid %s", after)
		}
		if r := e.cmd(t, rt, "exec", c, "cat", "/tmp/d"); r.stdout != "detached\n" {
			t.Errorf("the restarted container lost its file: %v", r)
		}
	})
	step(t, "stop", func(t *testing.T) {
		start := time.Now()
		e.must(t, rt, "stop", "-t", "10", c)
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("stop took %v: SIGTERM did not stop the container", d)
		}
		if st := e.status(t, rt, c); st != "exited 7" {
			t.Errorf("after stop: %q, want \"exited 7\" (the shell's TERM trap)", st)
		}
	})
	step(t, "start_kill", func(t *testing.T) {
		e.must(t, rt, "start", c)
		e.waitStatus(t, rt, c, "running")
		e.must(t, rt, "kill", c)
		e.waitStatus(t, rt, c, "exited 137")
	})
	step(t, "rm", func(t *testing.T) {
		e.must(t, rt, "rm", c)
		if st := e.status(t, rt, c); st != "" {
			t.Errorf("after rm: %q", st)
		}
		if e.runtimeHas(t, rt, id) {
			t.Errorf("%s still lists %s after rm", rt, id)
		}
	})
	step(t, "rm_force", func(t *testing.T) {
		f := "f-" + rt
		fid := e.must(t, rt, run("-d", "--name", f, e.image, trapLoop[0], trapLoop[1], trapLoop[2])...).out()
		e.waitStatus(t, rt, f, "running 0")
		start := time.Now()
		e.must(t, rt, "rm", "-f", f)
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("rm -f took %v", d)
		}
		if st := e.status(t, rt, f); st != "" {
			t.Errorf("after rm -f: %q", st)
		}
		if e.runtimeHas(t, rt, fid) {
			t.Errorf("%s still lists %s after rm -f", rt, fid)
		}
	})
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
