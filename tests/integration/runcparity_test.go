package integration

import (
	"encoding/json"
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
