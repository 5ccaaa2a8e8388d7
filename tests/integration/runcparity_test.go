package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
)

// TestExecCreated: like runc, exec runs a process in a container that is
// created but not started; the container stays created and starts after.
func TestExecCreated(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "sh", "-c", "echo started > /dev/shm/started; sleep 1000"))
	if r := e.must("exec", id, "sh", "-c", "echo in-created; test -e /dev/shm/started && echo program-ran; true"); r.stdout != "in-created\n" {
		t.Fatalf("exec into a created container: %v", r)
	}
	if s := e.status(id); s != "created" {
		t.Fatalf("status after an exec: %q", s)
	}
	e.must("start", id)
	e.waitStatus(id, "running")
	if r := e.must("exec", id, "cat", "/dev/shm/started"); r.stdout != "started\n" {
		t.Fatalf("the program after start: %v", r)
	}
}

// TestKillSignalZero: signal 0 checks that the container is there, as
// kill(2) does and runc accepts it, with and without --all.
func TestKillSignalZero(t *testing.T) {
	e := newEnv(t)
	id := e.create(sleeper(t))
	e.must("kill", id, "0")
	e.must("kill", "--all", id, "0")
	e.must("start", id)
	e.waitStatus(id, "running")
	e.must("kill", id, "0")
	e.must("pause", id)
	e.must("kill", id, "0")
	e.must("kill", "--all", id, "0")
	if s := e.status(id); s != "paused" {
		t.Fatalf("status after kill 0: %q", s)
	}
	e.must("resume", id)
	e.must("kill", id, "KILL")
	e.waitStatus(id, "stopped")
	e.fails("not running", "kill", id, "0")
	e.must("kill", "--all", id, "0") // nothing left to signal
}

// TestKillWithoutPidNamespace: SIGKILL ends a pid namespace with its
// init, but a container without one would keep its other processes; kill
// KILL kills the whole cgroup then, as runc does.
func TestKillWithoutPidNamespace(t *testing.T) {
	for _, paused := range []bool{false, true} {
		name := map[bool]string{false: "running", true: "paused"}[paused]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			b := newBundle(t, "sh", "-c", "sleep 1000 & sleep 1001 & wait")
			b.Spec.Linux.Namespaces = slices.DeleteFunc(b.Spec.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
				return n.Type == specs.PIDNamespace
			})
			id := e.create(b)
			e.must("start", id)
			dir := filepath.Join(cgroupRoot, "kan", id)
			waitFor(t, "sh and its two sleeps", func() bool {
				pids, _ := cgroups.Pids(dir)
				return len(pids) == 3
			})
			if paused {
				e.must("pause", id)
			}
			e.must("kill", id, "KILL")
			waitFor(t, "every process of the cgroup to die", func() bool {
				pids, err := cgroups.Pids(dir)
				return err == nil && len(pids) == 0
			})
			if s := e.status(id); s != "stopped" {
				t.Fatalf("status after kill KILL: %q", s)
			}
		})
	}
}

// TestPsStopped: ps of a stopped container prints the header alone and
// succeeds, as runc's does.
func TestPsStopped(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "true"))
	e.must("start", id)
	e.waitStatus(id, "stopped")
	r := e.must("ps", id)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "PID") {
		t.Fatalf("ps of a stopped container: %v", r)
	}
	var pids []int
	if r := e.must("ps", "--format", "json", id); json.Unmarshal([]byte(r.stdout), &pids) != nil || len(pids) != 0 {
		t.Fatalf("ps --format json of a stopped container: %v", r)
	}
}

// TestCreateRefusesBusyOrFrozenCgroup: a cgroupsPath that holds another
// container's processes, or that is frozen, is refused with runc's words,
// and the refusal leaves everything as it was: the other container runs,
// the cgroup kan did not make stays, and no state is left.
func TestCreateRefusesBusyOrFrozenCgroup(t *testing.T) {
	e := newEnv(t)
	shared := fmt.Sprintf("/kan-shared-%d-%d", os.Getpid(), idSeq.Add(1))
	first := newBundle(t, "sleep", "1000")
	first.Spec.Linux.CgroupsPath = shared
	running := e.running(first)
	second := newBundle(t, "sleep", "1000")
	second.Spec.Linux.CgroupsPath = shared
	for _, cmd := range [][]string{{"create"}, {"run", "--detach"}} {
		id := newID(t)
		e.fails("container's cgroup is not empty: 1 process(es) found", append(cmd, "--bundle", second.write(t), id)...)
		noState(t, e, id)
	}
	if s := e.status(running); s != "running" {
		t.Fatalf("the container whose cgroup was asked for: %q", s)
	}

	frozen := filepath.Join(cgroupRoot, fmt.Sprintf("kan-frozen-%d-%d", os.Getpid(), idSeq.Add(1)))
	if err := os.Mkdir(frozen, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(frozen) })
	if err := os.WriteFile(filepath.Join(frozen, "cgroup.freeze"), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	third := newBundle(t, "true")
	third.Spec.Linux.CgroupsPath = strings.TrimPrefix(frozen, cgroupRoot)
	id := newID(t)
	e.fails("container's cgroup unexpectedly frozen", "create", "--bundle", third.write(t), id)
	noState(t, e, id)
	if _, err := os.Stat(frozen); err != nil {
		t.Fatalf("the frozen cgroup, not kan's: %v", err)
	}
}

// noState checks that a refused create left no state directory.
func noState(t *testing.T, e *env, id string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); err == nil {
		t.Errorf("refused container %s: state directory left behind", id)
	}
	e.fails("does not exist", "state", id)
}
