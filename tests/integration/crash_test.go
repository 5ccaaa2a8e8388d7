package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/kan-runtime/kan/libcontainer/crashpoint"
)

// TestCrashSafety kills kan with SIGKILL (KAN_TEST_CRASH_AT, see
// libcontainer/crashpoint) at every named point of create, start, run,
// exec and delete. After each crash `kan state` and `kan list` tell the
// truth without failing, state.json (when there is one) parses, a second
// command does the right thing, `kan delete --force` cleans up, and
// nothing is left: no state dir or temporary dir, cgroup, process (in the
// cgroup, or the init by pid and start time), fifo, or host mount.
func TestCrashSafety(t *testing.T) {
	e := newEnv(t)
	kills := 0
	crash := func(t *testing.T, point string, args ...string) {
		t.Helper()
		r, ps := e.kanEnv([]string{crashpoint.Env + "=" + point}, args...)
		if !killedBy(ps, syscall.SIGKILL) {
			t.Fatalf("kan %v with %s=%s was not killed at the point: %v", args, crashpoint.Env, point, r)
		}
		kills++
	}
	// check asserts what state, list and the file say after a crash,
	// and returns the status.
	check := func(t *testing.T, id string) string {
		t.Helper()
		e.rawState(id) // must parse if it exists
		l := e.must("list", "--format", "json")
		var list []map[string]any
		if err := json.Unmarshal([]byte(l.stdout), &list); err != nil && strings.TrimSpace(l.stdout) != "null" {
			t.Fatalf("list after crash: %v in %q", err, l.stdout)
		}
		r := e.kan("state", id)
		if r.code != 0 {
			if !strings.Contains(r.stderr, "does not exist") {
				t.Fatalf("state after crash: %v", r)
			}
			return "absent"
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("state after crash: %v in %q", err, r.stdout)
		}
		found := false
		for _, c := range list {
			if c["id"] == id {
				found = true
				if c["status"] != st["status"] {
					t.Errorf("list says %v, state says %v", c["status"], st["status"])
				}
			}
		}
		if !found {
			t.Errorf("list does not show %s", id)
		}
		return st["status"].(string)
	}
	initOf := func(id string) (int, uint64) {
		st := e.rawState(id)
		if st == nil {
			return 0, 0
		}
		pid, _ := st["pid"].(float64)
		start, _ := st["kanInitStartTime"].(float64)
		return int(pid), uint64(start)
	}
	cleanup := func(t *testing.T, id string, mounts string) {
		t.Helper()
		pid, start := initOf(id)
		e.must("delete", "--force", id)
		e.assertNoLeak(id, pid, start, mounts)
	}

	for rep := 0; rep < pick(1, 5); rep++ {
		crashEverywhere(t, e, crash, check, initOf, cleanup)
	}
	t.Logf("%d SIGKILLs injected", kills)
}

func crashEverywhere(t *testing.T, e *env, crash func(*testing.T, string, ...string), check func(*testing.T, string) string,
	initOf func(string) (int, uint64), cleanup func(*testing.T, string, string)) {
	createPoints := crashpoint.Points["create"]
	for _, cmd := range []string{"create", "run"} {
		for _, point := range createPoints {
			t.Run(cmd+"/"+point, func(t *testing.T) {
				mounts := hostMounts(t)
				id := newID(t)
				b := sleeper(t).write(t)
				t.Cleanup(func() { e.kan("delete", "--force", id) })
				crash(t, point, cmd, "--bundle", b, id)
				want := map[string]string{"create-state-tmpdir": "absent", "create-created": "created"}[point]
				if want == "" {
					want = "stopped" // a create that died is not a container
				}
				if got := check(t, id); got != want {
					t.Fatalf("status after a crash at %s: %q, want %q", point, got, want)
				}
				switch want {
				case "created":
					// It is a real, usable container.
					e.must("start", id)
					e.waitStatus(id, "running")
				case "stopped":
					e.fails("cannot start", "start", id)
				}
				cleanup(t, id, mounts)
			})
		}
	}
	startPoints := append([]string{"save-tmp-written", "save-partial"}, crashpoint.Points["start"]...)
	for _, point := range startPoints {
		t.Run("start/"+point, func(t *testing.T) {
			mounts := hostMounts(t)
			id := newID(t)
			e.must("create", "--bundle", sleeper(t).write(t), id)
			t.Cleanup(func() { e.kan("delete", "--force", id) })
			crash(t, point, "start", id)
			// The init was released before any of these points: the
			// program runs, whatever the file says.
			if got := check(t, id); got != "running" {
				t.Fatalf("status after a crash at %s: %q, want running", point, got)
			}
			pid, _ := initOf(id)
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) != "sleep\n" {
				t.Fatalf("the init runs %q, want sleep", comm)
			}
			e.fails("cannot start", "start", id)
			cleanup(t, id, mounts)
		})
	}
	for _, point := range crashpoint.Points["exec"] {
		t.Run("exec/"+point, func(t *testing.T) {
			mounts := hostMounts(t)
			id := newID(t)
			e.must("run", "-d", "--bundle", sleeper(t).write(t), id)
			t.Cleanup(func() { e.kan("delete", "--force", id) })
			crash(t, point, "exec", id, "sleep", "999")
			if got := check(t, id); got != "running" {
				t.Fatalf("status after a crash at %s: %q, want running", point, got)
			}
			// Before the program runs, the exec stage notices kan is gone
			// and exits: only the init stays.
			if point != "exec-running" {
				waitFor(t, "the orphaned exec stage to exit", func() bool { return len(procsInCgroup(id)) == 1 })
			}
			// The container still works.
			if r := e.must("exec", id, "echo", "alive"); r.stdout != "alive\n" {
				t.Fatalf("exec after crash: %v", r)
			}
			cleanup(t, id, mounts)
		})
	}
	for _, point := range crashpoint.Points["delete"] {
		t.Run("delete/"+point, func(t *testing.T) {
			mounts := hostMounts(t)
			id := newID(t)
			e.must("run", "-d", "--bundle", sleeper(t).write(t), id)
			t.Cleanup(func() { e.kan("delete", "--force", id) })
			pid, start := initOf(id)
			crash(t, point, "delete", "--force", id)
			// The init got its SIGKILL before any of these points; let
			// it finish dying, so that list and state, run one after
			// the other, see the same truth.
			waitFor(t, "the init to die", func() bool { return procStart(pid) != start })
			want := "stopped"
			if point == "delete-dir-removed" {
				want = "absent"
			}
			if got := check(t, id); got != want {
				t.Fatalf("status after a crash at %s: %q, want %q", point, got, want)
			}
			e.must("delete", "--force", id)
			e.assertNoLeak(id, pid, start, mounts)
		})
	}
}
