//go:build vmtest

package vm

import (
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestForkBombAtPidsMaxDoesNotAffectKan: the pids.max variant of the
// integration test's RLIMIT_NPROC fork bomb (docs/security.md). A root
// container forks without end against pids.max; meanwhile other
// containers are created, exec'd into and deleted normally, and the bomb
// is then deleted with nothing left.
func TestForkBombAtPidsMaxDoesNotAffectKan(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	// The outer loop restarts the forking shell each time a failed fork
	// makes it give up.
	b := newBundle(t, "sh", "-c", "while :; do sh -c 'while :; do sleep 1000 & done' 2>/dev/null; done")
	b.Spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(64))}
	k.create(b, id)
	k.must("start", id)
	waitFor(t, "the bomb to reach pids.max", func() bool { return keyed(t, id, "pids.events", "max") > 10 })
	for i := 0; i < 3; i++ {
		other := newID(t)
		k.create(newBundle(t, "sleep", "1000"), other)
		k.must("start", other)
		if r := k.must("exec", other, "echo", "ok"); strings.TrimSpace(r.stdout) != "ok" {
			t.Fatalf("exec during the bomb: %v", r)
		}
		k.must("delete", "--force", other)
		k.assertGone(other, "")
	}
	if n, _ := strconv.Atoi(cgroupFile(t, id, "pids.current")); n > 64 {
		t.Errorf("pids.current = %d, above the limit", n)
	}
	k.must("delete", "--force", id)
	k.assertGone(id, "")
}
