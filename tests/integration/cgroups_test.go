package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
)

// counterScript counts in /dev/shm/counter (the default config's /dev/shm
// is a writable tmpfs), so the host can see whether the container makes
// progress.
const counterScript = `i=0; while :; do i=$((i+1)); echo $i > /dev/shm/counter; sleep 0.01; done`

// startCounter creates and starts a container running counterScript and
// waits until it counts.
func (e *env) startCounter() (id string, counter func() int) {
	e.t.Helper()
	id = e.create(newBundle(e.t, "sh", "-c", counterScript))
	e.must("start", id)
	pid := int(e.state(id)["pid"].(float64))
	counter = func() int {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/dev/shm/counter", pid))
		n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return n
	}
	waitFor(e.t, "the counter to start", func() bool { return counter() > 0 })
	return id, counter
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t)
	id, counter := e.startCounter()

	e.must("pause", id)
	if s := e.status(id); s != "paused" {
		t.Fatalf("status after pause: %q", s)
	}
	before := counter()
	time.Sleep(300 * time.Millisecond)
	if after := counter(); after != before {
		t.Fatalf("paused container made progress: %d -> %d", before, after)
	}
	e.fails("cannot pause a container that is paused", "pause", id)

	e.must("resume", id)
	if s := e.status(id); s != "running" {
		t.Fatalf("status after resume: %q", s)
	}
	waitFor(t, "progress after resume", func() bool { return counter() > before })
	e.fails("cannot resume a container that is running", "resume", id)

	// A paused container can be killed, then deleted.
	e.must("pause", id)
	e.must("kill", "--all", id, "KILL")
	e.waitStatus(id, "stopped")
	e.must("delete", id)
	e.assertGone(id)
}

func TestDeleteForcePaused(t *testing.T) {
	e := newEnv(t)
	id, _ := e.startCounter()
	e.must("pause", id)
	e.fails("cannot delete a container that is paused", "delete", id)
	e.must("delete", "--force", id)
	e.assertGone(id)
}

func TestPauseBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "sleep", "1000"))
	e.fails("cannot pause a container that is created", "pause", id)
	e.fails("cannot resume a container that is created", "resume", id)
	if s := e.status(id); s != "created" {
		t.Fatalf("status after a refused pause: %q", s)
	}
	e.fails("does not exist", "pause", "no-such-container")
	e.fails("does not exist", "resume", "no-such-container")
}

func TestPs(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "sh", "-c", "sleep 1000 & sleep 1001 & wait"))
	e.must("start", id)
	pid := int(e.state(id)["pid"].(float64))
	var pids []int
	waitFor(t, "two processes", func() bool {
		r := e.must("ps", "--format", "json", id)
		pids = nil
		if err := json.Unmarshal([]byte(r.stdout), &pids); err != nil {
			t.Fatalf("ps --format json: %v in %q", err, r.stdout)
		}
		return len(pids) == 3 // sh and two sleeps
	})
	if !slices.Contains(pids, pid) {
		t.Fatalf("ps json %v lacks the init %d", pids, pid)
	}

	table := e.must("ps", id).stdout
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "PID") || !strings.Contains(table, "sleep 1001") {
		t.Fatalf("ps table:\n%s", table)
	}
	// ps options after the id go to ps.
	custom := e.must("ps", id, "-o", "pid,comm").stdout
	lines = strings.Split(strings.TrimSpace(custom), "\n")
	if len(lines) != 4 || strings.Fields(lines[0])[0] != "PID" || !strings.Contains(custom, strconv.Itoa(pid)+" sh") {
		t.Fatalf("ps -o pid,comm:\n%s", custom)
	}
	e.fails("--format", "ps", "--format", "yaml", id)
	e.fails("does not exist", "ps", "no-such-container")
}

func TestEvents(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "sleep", "1000"))
	e.must("start", id)

	r := e.must("events", "--stats", id)
	var ev struct {
		Type string                     `json:"type"`
		ID   string                     `json:"id"`
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil || ev.Type != "stats" || ev.ID != id || ev.Data == nil {
		t.Fatalf("events --stats: %v, %q", err, r.stdout)
	}
	// Sections whose controller is not enabled are left out; those
	// present have runc's shape.
	if cpu, ok := ev.Data["cpu"]; ok {
		var c struct {
			Usage map[string]any `json:"usage"`
		}
		if json.Unmarshal(cpu, &c) != nil || c.Usage["kernel"] == nil || c.Usage["user"] == nil {
			t.Errorf("cpu section: %s", cpu)
		}
	}
	// kan enables a controller in the container's cgroup only where the
	// config sets one of its values: what counts is the container's own
	// cgroup.controllers, not what the root offers.
	enabled, err := cgroups.Controllers(filepath.Join(cgroupRoot, "kan", id))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.Data["memory"]; ok != slices.Contains(enabled, "memory") {
		t.Errorf("memory section present %v, memory controller enabled in the container's cgroup %v", ok, !ok)
	}

	// The stream prints stats every interval and ends with the container.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kanBin, "--root", e.root, "events", "--interval", "100ms", id)
	out, err := os.Create(filepath.Join(t.TempDir(), "events"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two stats events", func() bool {
		data, _ := os.ReadFile(out.Name())
		return strings.Count(string(data), `"type":"stats"`) >= 2
	})
	e.must("kill", id, "KILL")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("events stream after the container stopped: %v", err)
	}
	data, _ := os.ReadFile(out.Name())
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.ID != id {
			t.Fatalf("event line %q: %v", line, err)
		}
	}

	e.fails("not running", "events", "--stats", id)
	e.fails("does not exist", "events", "--stats", "no-such-container")
}

func TestUpdateBadInput(t *testing.T) {
	e := newEnv(t)
	id := e.create(newBundle(t, "sleep", "1000"))
	e.must("start", id)
	e.fails("does not exist", "update", "--pids-limit", "10", "no-such-container")
	e.fails("--memory: invalid size", "update", "--memory", "1x", id)
	e.fails("--kernel-memory: not supported on cgroup v2", "update", "--kernel-memory", "10m", id)
	e.fails("--cpu-rt-runtime: not supported on cgroup v2", "update", "--cpu-rt-runtime", "1000", id)
	e.fails("linux.resources.memory.swap", "update", "--memory", "100m", "--memory-swap", "50m", id)
	e.fails("--resources", "update", "-r", "/nonexistent.json", id)
	if r := e.kanIn("{not json", nil, "update", "-r", "-", id); r.code == 0 || !strings.Contains(r.stderr, "--resources -") {
		t.Fatalf("update -r - with bad JSON: %v", r)
	}
	if s := e.status(id); s != "running" {
		t.Fatalf("status after refused updates: %q", s)
	}
}

// TestUpdateMissingController runs where the hierarchy lacks the memory
// controller (this project's hybrid host): the update must name the
// controller and the field, and the container must keep running.
func TestUpdateMissingController(t *testing.T) {
	available, _ := cgroups.Controllers(cgroupRoot)
	if slices.Contains(available, "memory") {
		t.Skip("the memory controller is available here (see tests/vm for limits)")
	}
	e := newEnv(t)
	id := e.create(newBundle(t, "sleep", "1000"))
	e.must("start", id)
	e.fails("linux.resources.memory.limit: the memory controller is not available", "update", "--memory", "100m", id)
	if s := e.status(id); s != "running" {
		t.Fatalf("status after a failed update: %q", s)
	}
	// Nothing of the failed update is recorded: a later update does not
	// trip over it.
	data, _ := os.ReadFile(filepath.Join(e.root, id, "state.json"))
	if strings.Contains(string(data), `"limit":104857600`) {
		t.Fatalf("failed update saved in the state: %s", data)
	}
}

// TestHugetlbLimits uses the one controller this project's hybrid host
// has on its cgroup2 mount.
func TestHugetlbLimits(t *testing.T) {
	available, _ := cgroups.Controllers(cgroupRoot)
	if !slices.Contains(available, "hugetlb") {
		t.Skip("no hugetlb controller on the cgroup2 mount")
	}
	if _, err := os.Stat("/sys/kernel/mm/hugepages/hugepages-2048kB"); err != nil {
		t.Skip("no 2MB huge pages on this kernel")
	}
	e := newEnv(t)
	b := newBundle(t, "sleep", "1000")
	b.Spec.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}
	id := e.create(b)
	dir := filepath.Join(cgroupRoot, "kan", id)
	read := func(f string) string {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	if got := read("hugetlb.2MB.max"); got != "4194304" {
		t.Fatalf("hugetlb.2MB.max after create: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "hugetlb.2MB.rsvd.max")); err == nil && read("hugetlb.2MB.rsvd.max") != "4194304" {
		t.Errorf("hugetlb.2MB.rsvd.max: %q", read("hugetlb.2MB.rsvd.max"))
	}
	e.must("start", id)
	if r := e.kanIn(`{"hugepageLimits":[{"pageSize":"2MB","limit":8388608}]}`, nil, "update", "-r", "-", id); r.code != 0 {
		t.Fatalf("update -r -: %v", r)
	}
	if got := read("hugetlb.2MB.max"); got != "8388608" {
		t.Fatalf("hugetlb.2MB.max after update: %q", got)
	}
	// Decoded, not matched as text: which page sizes the stats list, and
	// in which order, depends on the host (some have 1 GB pages too).
	r := e.must("events", "--stats", id)
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Hugetlb map[string]struct {
				Failcnt *uint64 `json:"failcnt"`
			} `json:"hugetlb"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
		t.Fatalf("events --stats: %v: %s", err, r.stdout)
	}
	if stat, ok := ev.Data.Hugetlb["2MB"]; ev.Type != "stats" || !ok || stat.Failcnt == nil {
		t.Errorf("events --stats lacks the 2MB hugetlb stats: %s", r.stdout)
	}
	e.fails("is not a huge page size", "update", "-r", writeTemp(t, `{"hugepageLimits":[{"pageSize":"2M","limit":1}]}`), id)
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "resources.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUpdateDevices: devices in update -r replace the eBPF device filter
// of a running container, as its own processes observe.
func TestUpdateDevices(t *testing.T) {
	skipUnlessKmsgReadable(t)
	e := newEnv(t)
	script := `mknod /dev/kmsg-test c 1 11
while :; do
	if head -c1 /dev/kmsg-test >/dev/null 2>&1; then echo allowed; else echo denied; fi > /dev/shm/res.new
	mv /dev/shm/res.new /dev/shm/res
	sleep 0.02
done`
	b := newBundle(t, "sh", "-c", script)
	b.Spec.Process.Capabilities = allCaps()
	id := e.create(b)
	e.must("start", id)
	pid := int(e.state(id)["pid"].(float64))
	res := func() string {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/dev/shm/res", pid))
		return strings.TrimSpace(string(data))
	}
	waitFor(t, "the device denied", func() bool { return res() == "denied" })

	allow := `{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":11,"access":"r"}]}`
	if r := e.kanIn(allow, nil, "update", "-r", "-", id); r.code != 0 {
		t.Fatalf("update -r - with devices: %v", r)
	}
	waitFor(t, "the device allowed after update", func() bool { return res() == "allowed" })

	// An update without devices keeps the rules in force; one with
	// devices replaces them again.
	e.must("update", id)
	time.Sleep(100 * time.Millisecond)
	if got := res(); got != "allowed" {
		t.Fatalf("after an update without devices: %q", got)
	}
	deny := `{"devices":[{"allow":false,"access":"rwm"}]}`
	if r := e.kanIn(deny, nil, "update", "-r", "-", id); r.code != 0 {
		t.Fatalf("update -r - denying: %v", r)
	}
	waitFor(t, "the device denied again", func() bool { return res() == "denied" })
	// Invalid rules change nothing.
	e.fails("linux.resources.devices", "update", "-r", writeTemp(t, `{"devices":[{"allow":true,"type":"x","access":"r"}]}`), id)
	time.Sleep(100 * time.Millisecond)
	if got := res(); got != "denied" {
		t.Fatalf("after an invalid update: %q", got)
	}
}

// TestNestedCgroupsPathLeavesNothing: the parents kan makes for a nested
// linux.cgroupsPath go with the container — after a run, and after a
// create that fails once the cgroup exists.
func TestNestedCgroupsPathLeavesNothing(t *testing.T) {
	e := newEnv(t)
	top := fmt.Sprintf("kan-nest-%d", os.Getpid())
	t.Cleanup(func() { os.Remove(filepath.Join(cgroupRoot, top, "x")); os.Remove(filepath.Join(cgroupRoot, top)) })
	b := newBundle(t, "cat", "/proc/self/cgroup")
	b.Spec.Linux.CgroupsPath = "/" + top + "/x/c1"
	// Without a cgroup namespace, the path shows inside.
	b.Spec.Linux.Namespaces = slices.DeleteFunc(b.Spec.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
		return n.Type == specs.CgroupNamespace
	})
	if out := e.mustRun(b); !strings.Contains(out, "/"+top+"/x/c1") {
		t.Fatalf("container cgroup: %q", out)
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, top)); err == nil {
		t.Fatalf("%s, made for the container, is left behind", top)
	}
	b = newBundle(t, "/no/such/program")
	b.Spec.Linux.CgroupsPath = "/" + top + "/x/c2"
	e.fails("/no/such/program", "create", "--bundle", b.write(t), newID(t))
	if _, err := os.Stat(filepath.Join(cgroupRoot, top)); err == nil {
		t.Fatalf("%s is left behind by a failed create", top)
	}
}
