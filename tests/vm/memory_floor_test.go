//go:build vmtest

package vm

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSmallestMemoryMax finds, by bisection, the smallest memory.max (with
// no swap) under which `kan run` of /bin/true still succeeds: everything
// kan's init allocates inside the container's cgroup counts against it.
// make bench reports the value; the target is 1 MiB.
func TestSmallestMemoryMax(t *testing.T) {
	k := newKan(t)
	runs := func(limit int64) bool {
		b := newBundle(t, "/bin/true")
		b.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(limit), Swap: ptr(limit)}
		r := k.runContainer(b, newID(t))
		return r.code == 0
	}
	lo, hi := int64(64<<10), int64(64<<20) // fails at lo (checked), runs at hi
	if !runs(hi) {
		t.Fatalf("kan run fails even under memory.max = %d", hi)
	}
	if runs(lo) {
		t.Logf("smallest memory.max: %d KiB or less", lo>>10)
		return
	}
	for hi-lo > 16<<10 {
		mid := (lo + hi) / 2 &^ (4<<10 - 1)
		if runs(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	t.Logf("smallest memory.max: %d KiB", hi>>10)
	if hi > 1<<20 {
		t.Logf("above the 1 MiB target by %d KiB", (hi-1<<20)>>10)
	}
}

// TestTmpcopyupCountsInTheContainer: what create copies into a tmpfs for
// tmpcopyup is charged to the container's cgroup, as anything the
// container holds: an image's directory must not be kept at the expense of
// the caller's cgroup (kan builds other configs' rootfs from its own
// process, in its own cgroup), and a container whose memory.max it exceeds
// fails to create.
func TestTmpcopyupCountsInTheContainer(t *testing.T) {
	k := newKan(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "big"), make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	bundleWith := func(limit int64) *bundle {
		b := newBundle(t, "/bin/true")
		// The tmpfs at /data starts as a copy of what is under it: the
		// bind mount of the 8 MiB file's directory.
		b.Spec.Mounts = append(b.Spec.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"bind", "ro"}},
			specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "size=16m"}})
		b.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(limit), Swap: ptr(limit)}
		return b
	}

	b := bundleWith(64 << 20)
	id := newID(t)
	k.create(b, id)
	current, err := strconv.ParseInt(readFile(t, filepath.Join(cgroupDir("", id), "memory.current")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if current < 8<<20 {
		t.Errorf("the container's memory.current is %d after an 8 MiB tmpcopyup: the copy is charged elsewhere", current)
	}

	b = bundleWith(4 << 20)
	id = newID(t)
	if r := k.kan("create", "--bundle", b.write(t), id); r.code == 0 {
		k.kan("delete", "--force", id)
		t.Errorf("create copied 8 MiB for tmpcopyup under memory.max = 4 MiB: %v", r)
	}
	k.assertGone(id, "")
}
