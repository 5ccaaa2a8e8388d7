//go:build vmtest

package vm

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The VM is what the other tests assume: one cgroup2 hierarchy at
// /sys/fs/cgroup with the controllers resource limits need, all delegated
// from the root; and the modules /init loads (overlay for kan's sealed
// binary, loop for block devices).
func TestPureV2(t *testing.T) {
	var found bool
	for _, m := range mounts() {
		if m.point == cgroupRoot {
			found = true
			if m.fstype != "cgroup2" || !strings.Contains(m.options, "nsdelegate") {
				t.Errorf("%s: type %s, options %s; want cgroup2 with nsdelegate", cgroupRoot, m.fstype, m.options)
			}
		}
	}
	if !found {
		t.Fatalf("nothing is mounted at %s", cgroupRoot)
	}
	enabled := strings.Fields(readFile(t, filepath.Join(cgroupRoot, "cgroup.subtree_control")))
	for _, c := range []string{"memory", "pids", "cpu", "cpuset", "io"} {
		if !slices.Contains(controllers(cgroupRoot), c) {
			t.Errorf("controller %s is not available: cgroup.controllers has %v", c, controllers(cgroupRoot))
		}
		if !slices.Contains(enabled, c) {
			t.Errorf("controller %s is not enabled for children: cgroup.subtree_control has %v", c, enabled)
		}
	}
	if !strings.Contains(readFile(t, "/proc/filesystems"), "\toverlay") {
		t.Error("overlayfs is not available (module overlay)")
	}
	if !exists("/dev/loop0") {
		t.Error("/dev/loop0 is missing (module loop)")
	}
}

// A container with linux.cgroupsPath runs in that cgroup, which kan run
// removes when the container is deleted.
func TestRunInCgroup(t *testing.T) {
	k := newKan(t)
	t.Cleanup(func() { os.Remove(filepath.Join(cgroupRoot, "kantest")) })

	// Without a cgroup namespace the container sees its cgroup's full path.
	id := newID(t)
	b := newBundle(t, "cat", "/proc/self/cgroup").withoutNamespace(specs.CgroupNamespace)
	b.Spec.Linux.CgroupsPath = "/kantest/" + id
	r := k.runContainer(b, id)
	if r.code != 0 {
		t.Fatalf("kan run: %v", r)
	}
	if want := "0::/kantest/" + id; strings.TrimSpace(r.stdout) != want {
		t.Errorf("/proc/self/cgroup in the container is %q, want %q", r.stdout, want)
	}

	// With one (kan spec's default) its cgroup is the namespace's root.
	id = newID(t)
	b = newBundle(t, "cat", "/proc/self/cgroup")
	b.Spec.Linux.CgroupsPath = "/kantest/" + id
	if r := k.runContainer(b, id); r.code != 0 || strings.TrimSpace(r.stdout) != "0::/" {
		t.Errorf("in a cgroup namespace: %v, want stdout 0::/", r)
	}
}

// The lifecycle under pure v2, in the default cgroup /kan/<id>: the init
// is in the cgroup from create on, and delete removes the cgroup.
func TestCreateStartDelete(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	b := newBundle(t, "sleep", "1000")
	k.create(b, id)
	dir := cgroupDir("", id)

	st := k.state(id)
	if st.Status != specs.StateCreated || st.Pid <= 0 {
		t.Fatalf("after create: status %s, pid %d", st.Status, st.Pid)
	}
	if procs := strings.Fields(readFile(t, filepath.Join(dir, "cgroup.procs"))); !slices.Contains(procs, strconv.Itoa(st.Pid)) {
		t.Errorf("init %d is not in %s/cgroup.procs %v", st.Pid, dir, procs)
	}
	if got, want := readFile(t, "/proc/"+strconv.Itoa(st.Pid)+"/cgroup"), "0::/kan/"+id; got != want {
		t.Errorf("/proc/%d/cgroup is %q, want %q", st.Pid, got, want)
	}

	k.must("start", id)
	k.waitStatus(id, specs.StateRunning)
	if !strings.Contains(readFile(t, filepath.Join(dir, "cgroup.events")), "populated 1") {
		t.Errorf("%s is not populated while the container runs", dir)
	}

	k.must("kill", id, "KILL")
	k.waitStatus(id, specs.StateStopped)
	k.must("delete", id)
	k.assertGone(id, "")
	if r := k.kan("state", id); r.code == 0 {
		t.Errorf("kan state after delete succeeded: %v", r)
	}
}

// kan spec's device rules deny every device but the defaults: the eBPF
// program kan attaches to the container's cgroup lets the container make a
// node (mknod is allowed, as with runc) but not open it, while /dev/null
// works. A rule allowing the device lets it open; listing the node in
// linux.devices does not (as in runc).
func TestDeviceFilter(t *testing.T) {
	k := newKan(t)
	// /dev/loop7 (block 7:7, from the VM's loop module) opens without any
	// other permission check, so only the device cgroup can refuse it.
	script := `echo x >/dev/null && echo null=ok
[ -b /dev/vmloop ] || mknod /dev/vmloop b 7 7
[ -b /dev/vmloop ] && echo node=ok
if head -c 0 /dev/vmloop; then echo open=ok; else echo open=denied; fi`
	newLoop := func() *bundle {
		b := newBundle(t, "sh", "-c", script)
		c := b.Spec.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_MKNOD")
		c.Effective = append(c.Effective, "CAP_MKNOD")
		c.Permitted = append(c.Permitted, "CAP_MKNOD")
		return b
	}
	check := func(name string, b *bundle, want string) {
		t.Helper()
		r := k.runContainer(b, newID(t))
		if r.code != 0 || !slices.Equal(strings.Fields(r.stdout), []string{"null=ok", "node=ok", want}) {
			t.Errorf("%s: %v; want null=ok node=ok %s", name, r, want)
		}
		if want == "open=denied" && !strings.Contains(r.stderr, "Operation not permitted") {
			t.Errorf("%s: opening the node did not fail with EPERM: %q", name, r.stderr)
		}
	}

	check("default rules", newLoop(), "open=denied")

	b := newLoop()
	major, minor := int64(7), int64(7)
	b.Spec.Linux.Resources.Devices = append(b.Spec.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "r"})
	check("rule allowing b 7:7 r", b, "open=ok")

	// As in runc, a node of linux.devices is made but gets no rule of its
	// own: opening it is up to linux.resources.devices.
	b = newLoop()
	b.Spec.Linux.Devices = append(b.Spec.Linux.Devices,
		specs.LinuxDevice{Path: "/dev/vmloop", Type: "b", Major: 7, Minor: 7})
	check("node in linux.devices", b, "open=denied")

	b = newLoop()
	b.Spec.Linux.Devices = append(b.Spec.Linux.Devices,
		specs.LinuxDevice{Path: "/dev/vmloop", Type: "b", Major: 7, Minor: 7})
	b.Spec.Linux.Resources.Devices = append(b.Spec.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "r"})
	check("node in linux.devices with a rule allowing it", b, "open=ok")
}
