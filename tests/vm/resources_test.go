//go:build vmtest

package vm

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
)

// Resource limits: each test creates a container with a limit, reads it
// back from the cgroup's files, and where it can, watches the kernel
// enforce it.

func ptr[T any](v T) *T { return &v }

// cgroupFile reads one interface file of container id's cgroup.
func cgroupFile(t *testing.T, id, name string) string {
	t.Helper()
	return readFile(t, filepath.Join(cgroupDir("", id), name))
}

// keyed reads one key of a flat keyed file such as memory.events.
func keyed(t *testing.T, id, file, key string) int64 {
	t.Helper()
	for _, line := range strings.Split(cgroupFile(t, id, file), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatalf("%s has no key %q", file, key)
	return 0
}

// fails runs kan, expects a non-zero exit and an error mentioning want.
func (k *kanEnv) fails(want string, args ...string) {
	k.t.Helper()
	r := k.kan(args...)
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		k.t.Fatalf("kan %v: %v; want an error mentioning %q", args, r, want)
	}
}

// stdin runs kan with input on stdin, for update -r -.
func (k *kanEnv) stdin(input string, args ...string) result {
	k.t.Helper()
	cmd := exec.Command(kanBin, append([]string{"--root", k.root}, args...)...)
	cmd.Stdin = strings.NewReader(input)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			k.t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}

// statsOf returns `kan events --stats id` decoded.
func (k *kanEnv) statsOf(id string) map[string]json.RawMessage {
	k.t.Helper()
	r := k.must("events", "--stats", id)
	var ev struct {
		Type string                     `json:"type"`
		ID   string                     `json:"id"`
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil || ev.Type != "stats" || ev.ID != id {
		k.t.Fatalf("events --stats: %v in %q", err, r.stdout)
	}
	return ev.Data
}

func TestMemoryLimitAndOOM(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	// dd's 64 MiB buffer cannot fit in 32 MiB: the OOM killer takes dd,
	// and the shell carries on.
	b := newBundle(t, "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1; echo survived > /dev/shm/x; sleep 1000")
	b.Spec.Linux.Resources.Memory = &specs.LinuxMemory{
		Limit:       ptr(int64(32 << 20)),
		Reservation: ptr(int64(8 << 20)),
		Swap:        ptr(int64(48 << 20)),
	}
	k.create(b, id)
	if got := cgroupFile(t, id, "memory.max"); got != "33554432" {
		t.Errorf("memory.max = %s", got)
	}
	if got := cgroupFile(t, id, "memory.low"); got != "8388608" {
		t.Errorf("memory.low = %s", got)
	}
	if got := cgroupFile(t, id, "memory.swap.max"); got != "16777216" {
		t.Errorf("memory.swap.max = %s, want 48M-32M", got)
	}

	// The event stream, started before the OOM, reports it.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	events := exec.CommandContext(ctx, kanBin, "--root", k.root, "events", "--interval", "1s", id)
	out, err := os.Create(filepath.Join(t.TempDir(), "events"))
	if err != nil {
		t.Fatal(err)
	}
	events.Stdout = out
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	// Give the stream time to read the OOM counter before the kill.
	waitFor(t, "a first stats event", func() bool {
		data, _ := os.ReadFile(out.Name())
		return strings.Contains(string(data), `"type":"stats"`)
	})
	k.must("start", id)
	waitFor(t, "an OOM kill in memory.events", func() bool { return keyed(t, id, "memory.events", "oom_kill") >= 1 })
	waitFor(t, "an oom event from kan events", func() bool {
		data, _ := os.ReadFile(out.Name())
		return strings.Contains(string(data), `{"type":"oom","id":"`+id+`"}`)
	})

	var mem struct {
		Usage struct {
			Limit   uint64 `json:"limit"`
			Failcnt uint64 `json:"failcnt"`
		} `json:"usage"`
		Raw map[string]uint64 `json:"raw"`
	}
	if err := json.Unmarshal(k.statsOf(id)["memory"], &mem); err != nil || mem.Usage.Limit != 32<<20 || len(mem.Raw) == 0 {
		t.Errorf("memory stats: %+v, %v", mem, err)
	}

	k.must("kill", id, "KILL")
	if err := events.Wait(); err != nil {
		t.Errorf("events stream after the container stopped: %v", err)
	}
}

func TestPidsLimit(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	// The subshell forks until refused (ash then gives up on it); the
	// init goes on without forking.
	b := newBundle(t, "sh", "-c", "(i=0; while [ $i -lt 30 ]; do sleep 1000 & i=$((i+1)); done); exec sleep 1000")
	b.Spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(10))}
	k.create(b, id)
	if got := cgroupFile(t, id, "pids.max"); got != "10" {
		t.Fatalf("pids.max = %s", got)
	}
	k.must("start", id)
	waitFor(t, "a fork refused at pids.max", func() bool { return keyed(t, id, "pids.events", "max") > 0 })
	if n, _ := strconv.Atoi(cgroupFile(t, id, "pids.current")); n > 10 {
		t.Errorf("pids.current = %d, above the limit", n)
	}
	var pids struct {
		Current uint64 `json:"current"`
		Limit   uint64 `json:"limit"`
	}
	if err := json.Unmarshal(k.statsOf(id)["pids"], &pids); err != nil || pids.Limit != 10 || pids.Current == 0 {
		t.Errorf("pids stats: %+v, %v", pids, err)
	}
}

func TestCPUQuotaSharesBurst(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	b := newBundle(t, "sh", "-c", "while :; do :; done")
	b.Spec.Linux.Resources.CPU = &specs.LinuxCPU{
		Shares: ptr(uint64(1024)),
		Quota:  ptr(int64(10000)),
		Period: ptr(uint64(100000)),
		Burst:  ptr(uint64(5000)),
	}
	k.create(b, id)
	for file, want := range map[string]string{
		"cpu.weight":    "39", // 1 + (1024-2)*9999/262142
		"cpu.max":       "10000 100000",
		"cpu.max.burst": "5000",
	} {
		if got := cgroupFile(t, id, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	k.must("start", id)
	waitFor(t, "throttling in cpu.stat", func() bool { return keyed(t, id, "cpu.stat", "nr_throttled") > 0 })
	var cpu struct {
		Usage      map[string]uint64 `json:"usage"`
		Throttling map[string]uint64 `json:"throttling"`
	}
	if err := json.Unmarshal(k.statsOf(id)["cpu"], &cpu); err != nil || cpu.Throttling["throttledPeriods"] == 0 || cpu.Usage["total"] == 0 {
		t.Errorf("cpu stats: %+v, %v", cpu, err)
	}
}

func TestCPUIdle(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	b := newBundle(t, "sleep", "1000")
	b.Spec.Linux.Resources.CPU = &specs.LinuxCPU{Idle: ptr(int64(1))}
	k.create(b, id)
	if got := cgroupFile(t, id, "cpu.idle"); got != "1" {
		t.Errorf("cpu.idle = %q", got)
	}
	// runc's update --cpu-idle: 0 ends idleness, 1 brings it back.
	k.must("update", "--cpu-idle", "0", id)
	if got := cgroupFile(t, id, "cpu.idle"); got != "0" {
		t.Errorf("cpu.idle after update --cpu-idle 0 = %q", got)
	}
	k.must("update", "--cpu-idle", "1", id)
	if got := cgroupFile(t, id, "cpu.idle"); got != "1" {
		t.Errorf("cpu.idle after update --cpu-idle 1 = %q", got)
	}
}

func TestCpuset(t *testing.T) {
	k := newKan(t)
	b := newBundle(t, "grep", "Cpus_allowed_list", "/proc/self/status")
	b.Spec.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "1", Mems: "0"}
	id := newID(t)
	k.create(b, id)
	if got := cgroupFile(t, id, "cpuset.cpus"); got != "1" {
		t.Errorf("cpuset.cpus = %q", got)
	}
	if got := cgroupFile(t, id, "cpuset.cpus.effective"); got != "1" {
		t.Errorf("cpuset.cpus.effective = %q", got)
	}
	if got := cgroupFile(t, id, "cpuset.mems"); got != "0" {
		t.Errorf("cpuset.mems = %q", got)
	}
	// The process itself may run only there.
	b2 := newBundle(t, "grep", "Cpus_allowed_list", "/proc/self/status")
	b2.Spec.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "1"}
	if out := k.mustRun(b2); !strings.HasSuffix(strings.TrimSpace(out), "\t1") {
		t.Errorf("in the container: %q, want Cpus_allowed_list 1", out)
	}
}

// TestBlockIO uses the VM's loop devices (block major 7), which exist
// unbound: the io controller takes limits for any disk.
func TestBlockIO(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	loop0 := specs.LinuxBlockIODevice{Major: 7, Minor: 0}
	b := newBundle(t, "sleep", "1000")
	b.Spec.Linux.Resources.BlockIO = &specs.LinuxBlockIO{
		Weight:                  ptr(uint16(500)),
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: loop0, Rate: 1 << 20}},
		ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: loop0, Rate: 2 << 20}},
		ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: loop0, Rate: 100}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: loop0, Rate: 200}},
	}
	k.create(b, id)
	dir := cgroupDir("", id)
	switch {
	case exists(filepath.Join(dir, "io.weight")):
		if got := cgroupFile(t, id, "io.weight"); !strings.Contains(got, "default 4950") {
			t.Errorf("io.weight = %q, want default 4950 (500 on v1's scale)", got)
		}
	case exists(filepath.Join(dir, "io.bfq.weight")):
		if got := cgroupFile(t, id, "io.bfq.weight"); !strings.Contains(got, "default 500") {
			t.Errorf("io.bfq.weight = %q, want default 500", got)
		}
	default:
		t.Errorf("neither io.weight nor io.bfq.weight in %s", dir)
	}
	if got := cgroupFile(t, id, "io.max"); got != "7:0 rbps=1048576 wbps=2097152 riops=100 wiops=200" {
		t.Errorf("io.max = %q", got)
	}

	// A per-device weight needs the io.cost controller on the device,
	// which is off by default: refused with the field's name, then
	// accepted once the VM's root enables io.cost for loop0.
	b = newBundle(t, "true")
	b.Spec.Linux.Resources.BlockIO = &specs.LinuxBlockIO{
		WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: loop0, Weight: ptr(uint16(200))}},
	}
	k.fails("linux.resources.blockIO.weightDevice[0]: write", "create", "--bundle", b.write(t), newID(t))
	qos := filepath.Join(cgroupRoot, "io.cost.qos")
	if err := os.WriteFile(qos, []byte("7:0 enable=1"), 0); err != nil {
		t.Fatalf("enable io.cost on loop0: %v", err)
	}
	t.Cleanup(func() { os.WriteFile(qos, []byte("7:0 enable=0"), 0) })
	id = newID(t)
	k.create(b, id)
	if got := cgroupFile(t, id, "io.weight"); !strings.Contains(got, "7:0 1920") {
		t.Errorf("io.weight = %q, want 7:0 1920 (200 on v1's scale)", got)
	}
}

func TestHugetlb(t *testing.T) {
	if !slices.Contains(controllers(cgroupRoot), "hugetlb") {
		t.Skip("no hugetlb controller in this kernel")
	}
	k := newKan(t)
	id := newID(t)
	b := newBundle(t, "sleep", "1000")
	// No huge pages are reserved in the VM: the limits are only written.
	b.Spec.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}
	k.create(b, id)
	if got := cgroupFile(t, id, "hugetlb.2MB.max"); got != "4194304" {
		t.Errorf("hugetlb.2MB.max = %q", got)
	}
	if exists(filepath.Join(cgroupDir("", id), "hugetlb.2MB.rsvd.max")) {
		if got := cgroupFile(t, id, "hugetlb.2MB.rsvd.max"); got != "4194304" {
			t.Errorf("hugetlb.2MB.rsvd.max = %q", got)
		}
	}
	if _, ok := k.statsOf(id)["hugetlb"]; !ok {
		t.Error("events --stats has no hugetlb section")
	}
}

func TestUnified(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	b := newBundle(t, "sleep", "1000")
	b.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}
	// Unified keys are written last: memory.max here wins over the limit.
	b.Spec.Linux.Resources.Unified = map[string]string{
		"memory.high": "50000000",
		"memory.max":  "60000000",
		"pids.max":    "7",
	}
	k.create(b, id)
	for file, want := range map[string]string{"memory.high": "49999872", "memory.max": "59998208", "pids.max": "7"} {
		// The kernel rounds byte limits down to whole pages.
		if got := cgroupFile(t, id, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	for key, want := range map[string]string{
		"cgroup.procs":     "managed by kan",
		"memory.max/../x":  "not a path",
		"memory.nosuch":    "memory.nosuch does not exist",
		"memory.stat":      `unified[\"memory.stat\"]: write`, // read-only (kan's log escapes quotes)
		"nosuchctl.thing":  "the nosuchctl controller is not available",
		"rdma.max":         `unified[\"rdma.max\"]`,
		"cpuset.cpus.part": `unified[\"cpuset.cpus.part\"]`,
	} {
		b := newBundle(t, "true")
		b.Spec.Linux.Resources.Unified = map[string]string{key: "1 2 3"}
		if key == "rdma.max" {
			b.Spec.Linux.Resources.Unified[key] = "nosuchdev hca_handle=1"
		}
		k.fails(want, "create", "--bundle", b.write(t), newID(t))
	}
}

// TestRdma: the VM has no RDMA device, so a limit for one is refused with
// the field's name (by the kernel, or for want of the controller).
func TestRdma(t *testing.T) {
	k := newKan(t)
	b := newBundle(t, "true")
	b.Spec.Linux.Resources.Rdma = map[string]specs.LinuxRdma{"mlx4_0": {HcaHandles: ptr(uint32(2))}}
	k.fails(`linux.resources.rdma[\"mlx4_0\"]`, "create", "--bundle", b.write(t), newID(t))
}

func TestUpdate(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	b := newBundle(t, "sleep", "1000")
	b.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(64 << 20))}
	b.Spec.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(20))}
	k.create(b, id)
	k.must("start", id)

	k.must("update", "--memory", "32m", "--pids-limit", "5", id)
	if got := cgroupFile(t, id, "memory.max"); got != "33554432" {
		t.Errorf("memory.max after update = %q", got)
	}
	if got := cgroupFile(t, id, "pids.max"); got != "5" {
		t.Errorf("pids.max after update = %q", got)
	}
	// swap is memory + swap; the memory limit in force (32m) is used.
	k.must("update", "--memory-swap", "48m", id)
	if got := cgroupFile(t, id, "memory.swap.max"); got != "16777216" {
		t.Errorf("memory.swap.max = %q", got)
	}
	k.fails("linux.resources.memory.swap", "update", "--memory-swap", "16m", id)

	// A period alone keeps the quota in force.
	k.must("update", "--cpu-quota", "20000", "--cpu-period", "100000", id)
	k.must("update", "--cpu-period", "50000", id)
	if got := cgroupFile(t, id, "cpu.max"); got != "20000 50000" {
		t.Errorf("cpu.max = %q, want 20000 50000", got)
	}
	k.must("update", "--cpu-share", "2048", "--cpuset-cpus", "0", id)
	if got := cgroupFile(t, id, "cpu.weight"); got != "79" {
		t.Errorf("cpu.weight = %q, want 79 (shares 2048)", got)
	}
	if got := cgroupFile(t, id, "cpuset.cpus"); got != "0" {
		t.Errorf("cpuset.cpus = %q", got)
	}

	// checkBeforeUpdate: no limit below the current usage.
	r := k.stdin(`{"memory":{"limit":4096,"checkBeforeUpdate":true}}`, "update", "-r", "-", id)
	if r.code == 0 || !strings.Contains(r.stderr, "below the current memory usage") {
		t.Errorf("update below usage with checkBeforeUpdate: %v", r)
	}
	if got := cgroupFile(t, id, "memory.max"); got != "33554432" {
		t.Errorf("memory.max after a refused update = %q", got)
	}
	// -1 removes the limits; flags override the JSON.
	r = k.stdin(`{"memory":{"limit":1073741824},"pids":{"limit":50}}`, "update", "-r", "-", "--memory", "-1", "--memory-swap", "-1", id)
	if r.code != 0 {
		t.Fatalf("update -r - --memory -1: %v", r)
	}
	if got := cgroupFile(t, id, "memory.max"); got != "max" {
		t.Errorf("memory.max = %q, want max", got)
	}
	if got := cgroupFile(t, id, "pids.max"); got != "50" {
		t.Errorf("pids.max = %q, want 50", got)
	}
	k.fails("--kernel-memory", "update", "--kernel-memory", "1m", id)
	k.fails("--cpu-rt-period", "update", "--cpu-rt-period", "1000", id)
}

// TestUpdateDevices: update -r with devices replaces the device filter of
// a running container, as the container observes.
func TestUpdateDevices(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	script := `mknod /dev/vmloop b 7 7
while :; do
	if head -c 0 /dev/vmloop 2>/dev/null; then echo allowed; else echo denied; fi > /dev/shm/res.new
	mv /dev/shm/res.new /dev/shm/res
	sleep 0.05
done`
	b := newBundle(t, "sh", "-c", script)
	c := b.Spec.Process.Capabilities
	c.Bounding = append(c.Bounding, "CAP_MKNOD")
	c.Effective = append(c.Effective, "CAP_MKNOD")
	c.Permitted = append(c.Permitted, "CAP_MKNOD")
	k.create(b, id)
	k.must("start", id)
	pid := k.state(id).Pid
	res := func() string {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/dev/shm/res", pid))
		return strings.TrimSpace(string(data))
	}
	waitFor(t, "the device denied", func() bool { return res() == "denied" })
	r := k.stdin(`{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"b","major":7,"minor":7,"access":"r"}]}`, "update", "-r", "-", id)
	if r.code != 0 {
		t.Fatalf("update -r - with devices: %v", r)
	}
	waitFor(t, "the device allowed after update", func() bool { return res() == "allowed" })
}

// TestFreeze: pause stops the container's processes (a counter stops),
// resume lets them go on, and a paused container can be deleted with
// --force, its cgroup emptied and removed.
func TestFreeze(t *testing.T) {
	k := newKan(t)
	id := newID(t)
	b := newBundle(t, "sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /dev/shm/counter; sleep 0.01; done`)
	k.create(b, id)
	k.must("start", id)
	pid := k.state(id).Pid
	counter := func() int {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/root/dev/shm/counter", pid))
		n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return n
	}
	waitFor(t, "the counter to start", func() bool { return counter() > 0 })

	k.must("pause", id)
	if st := k.state(id).Status; st != specs.ContainerState("paused") {
		t.Fatalf("status after pause: %s", st)
	}
	if !strings.Contains(cgroupFile(t, id, "cgroup.events"), "frozen 1") {
		t.Errorf("cgroup.events after pause: %q", cgroupFile(t, id, "cgroup.events"))
	}
	before := counter()
	time.Sleep(time.Second)
	if after := counter(); after != before {
		t.Fatalf("paused container made progress: %d -> %d", before, after)
	}
	k.must("resume", id)
	waitFor(t, "progress after resume", func() bool { return counter() > before })

	k.must("pause", id)
	dir := cgroupDir("", id)
	k.must("delete", "--force", id)
	if exists(dir) {
		t.Fatalf("cgroup %s left after delete --force of a paused container", dir)
	}
}
