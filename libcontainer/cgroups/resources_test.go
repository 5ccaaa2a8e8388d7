package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

// fakeTree makes root/kan/c1 with the given controllers available at
// every level and the interface files of c1 pre-created (empty), as the
// kernel would show them once the controllers are enabled.
func fakeTree(t *testing.T, controllers string, files ...string) (root, dir string) {
	t.Helper()
	root = t.TempDir()
	dir = filepath.Join(root, "kan", "c1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Join(root, "kan"), dir} {
		writeTest(t, filepath.Join(d, "cgroup.controllers"), controllers)
		writeTest(t, filepath.Join(d, "cgroup.subtree_control"), "")
	}
	for _, f := range files {
		writeTest(t, filepath.Join(dir, f), "")
	}
	return root, dir
}

func writeTest(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTest(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestConversions(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
	for w, want := range map[uint16]uint64{10: 1, 500: 4950, 1000: 10000} {
		if got := BlkioWeightToIOWeight(w); got != want {
			t.Errorf("BlkioWeightToIOWeight(%d) = %d, want %d", w, got, want)
		}
	}
	swaps := []struct {
		swap, limit, want int64
		ok                bool
	}{
		{0, -1, -1, true},     // memory unlimited: swap too
		{-1, 100, -1, true},   // swap unlimited
		{300, 100, 200, true}, // total 300 = 100 memory + 200 swap
		{100, 100, 0, true},   // no swap
		{50, 100, 0, false},   // below the memory limit
		{100, 0, 0, false},    // swap without a memory limit
		{100, -1, 0, false},   // swap with unlimited memory
		{-2, 100, 0, false},   // nonsense
		{1 << 40, 1 << 30, 1<<40 - 1<<30, true},
	}
	for _, c := range swaps {
		got, err := SwapMax(c.swap, c.limit)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("SwapMax(%d, %d) = %d, %v; want %d (ok %v)", c.swap, c.limit, got, err, c.want, c.ok)
		}
	}
}

func TestSetWritesEveryResource(t *testing.T) {
	files := []string{
		"memory.max", "memory.low", "memory.swap.max", "memory.high",
		"cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle", "cpuset.cpus", "cpuset.mems",
		"pids.max", "io.weight", "io.max", "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max",
		"rdma.max",
	}
	root, dir := fakeTree(t, "cpuset cpu io memory hugetlb pids rdma", files...)
	dev := specs.LinuxBlockIODevice{Major: 7, Minor: 0}
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(100 << 20)), Reservation: ptr(int64(50 << 20)), Swap: ptr(int64(300 << 20)),
			Kernel: ptr(int64(0)), Swappiness: ptr(uint64(0)), DisableOOMKiller: ptr(false)},
		CPU: &specs.LinuxCPU{Shares: ptr(uint64(1024)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)),
			Burst: ptr(uint64(10000)), Cpus: "0-1", Mems: "0"},
		Pids: &specs.LinuxPids{Limit: ptr(int64(-1))},
		BlockIO: &specs.LinuxBlockIO{
			Weight:                &[]uint16{500}[0],
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}},
		},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}, {Pagesize: "1GB", Limit: 0}},
		Rdma:           map[string]specs.LinuxRdma{"mlx4_0": {HcaHandles: ptr(uint32(2))}},
		Unified:        map[string]string{"memory.high": "90000000"},
		Network:        &specs.LinuxNetwork{}, // zero: unset
	}
	if err := Set(root, dir, r); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"memory.max":           "104857600",
		"memory.low":           "52428800",
		"memory.swap.max":      "209715200",
		"memory.high":          "90000000",
		"cpu.weight":           "39",
		"cpu.max":              "50000 100000",
		"cpu.max.burst":        "10000",
		"cpuset.cpus":          "0-1",
		"cpuset.mems":          "0",
		"pids.max":             "max",
		"io.weight":            "default 4950",
		"io.max":               "7:0 rbps=1048576",
		"hugetlb.2MB.max":      "4194304",
		"hugetlb.2MB.rsvd.max": "4194304",
		"hugetlb.1GB.max":      "0",
		"rdma.max":             "mlx4_0 hca_handle=2 hca_object=max",
	}
	for f, v := range want {
		if got := readTest(t, filepath.Join(dir, f)); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	// The container's own subtree_control is left alone: it would stop
	// processes from living in it.
	if got := readTest(t, filepath.Join(dir, "cgroup.subtree_control")); got != "" {
		t.Errorf("container's subtree_control written: %q", got)
	}
	// The parents got a controller enabled (the fake file keeps the last
	// write only).
	for _, d := range []string{root, filepath.Join(root, "kan")} {
		if got := readTest(t, filepath.Join(d, "cgroup.subtree_control")); !strings.HasPrefix(got, "+") {
			t.Errorf("%s: subtree_control %q, want a controller enabled", d, got)
		}
	}
}

func TestSetEnablesOnlyWhatIsMissing(t *testing.T) {
	root, dir := fakeTree(t, "memory pids", "pids.max")
	// memory already enabled at the root: kan must not write there.
	writeTest(t, filepath.Join(root, "cgroup.subtree_control"), "memory pids")
	if err := Set(root, dir, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(10))}}); err != nil {
		t.Fatal(err)
	}
	if got := readTest(t, filepath.Join(root, "cgroup.subtree_control")); got != "memory pids" {
		t.Errorf("root subtree_control rewritten: %q", got)
	}
	if got := readTest(t, filepath.Join(root, "kan", "cgroup.subtree_control")); got != "+pids" {
		t.Errorf("kan subtree_control = %q, want +pids", got)
	}
	if got := readTest(t, filepath.Join(dir, "pids.max")); got != "10" {
		t.Errorf("pids.max = %q", got)
	}
}

func TestSetNothingForZeroValues(t *testing.T) {
	root, dir := fakeTree(t, "")
	// What Docker sends for a container without limits.
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(0)), Swap: ptr(int64(0)), Swappiness: ptr(uint64(0))},
		CPU:     &specs.LinuxCPU{Shares: ptr(uint64(0)), Quota: ptr(int64(0))},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(0))},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(0))},
	}
	if err := Set(root, dir, r); err != nil {
		t.Fatal(err)
	}
}

func TestSetErrors(t *testing.T) {
	cases := []struct {
		name string
		r    specs.LinuxResources
		want string
	}{
		{"controller missing", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(1 << 20))}},
			"linux.resources.memory.limit: the memory controller is not available in"},
		{"unified controller missing", specs.LinuxResources{Unified: map[string]string{"io.weight": "10"}},
			`linux.resources.unified["io.weight"]: the io controller is not available`},
		{"swap below limit", specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(200)), Swap: ptr(int64(100))}},
			"linux.resources.memory.swap: 100 is below the memory limit 200"},
		{"kernel", specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: ptr(int64(1))}}, "linux.resources.memory.kernel:"},
		{"kernelTCP", specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: ptr(int64(1))}}, "linux.resources.memory.kernelTCP:"},
		{"swappiness", specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr(uint64(60))}}, "linux.resources.memory.swappiness:"},
		{"oom killer", specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: ptr(true)}}, "linux.resources.memory.disableOOMKiller:"},
		{"rt runtime", specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr(int64(1))}}, "linux.resources.cpu.realtimeRuntime:"},
		{"rt period", specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimePeriod: ptr(uint64(1))}}, "linux.resources.cpu.realtimePeriod:"},
		{"shares", specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(300000))}}, "linux.resources.cpu.shares: 300000 is out of range"},
		{"burst without quota", specs.LinuxResources{CPU: &specs.LinuxCPU{Burst: ptr(uint64(1))}}, "linux.resources.cpu.burst:"},
		{"idle", specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr(int64(2))}}, "linux.resources.cpu.idle:"},
		{"idle with shares", specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr(int64(1)), Shares: ptr(uint64(1024))}}, "an idle cgroup has no weight"},
		{"blkio weight", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(5))}}, "linux.resources.blockIO.weight: 5 is out of range"},
		{"leaf weight", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr(uint16(50))}}, "linux.resources.blockIO.leafWeight:"},
		{"device weight", specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{Weight: ptr(uint16(2000))}}}},
			"linux.resources.blockIO.weightDevice[0].weight:"},
		{"page size", specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2M"}}}, "linux.resources.hugepageLimits[0].pageSize:"},
		{"network", specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr(uint32(1))}}, "linux.resources.network:"},
		{"unified path", specs.LinuxResources{Unified: map[string]string{"memory.max/../x": "1"}}, "not a path"},
		{"unified dots", specs.LinuxResources{Unified: map[string]string{"memory..max": "1"}}, "not a path"},
		{"unified core", specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}}, "managed by kan"},
		{"unified no file", specs.LinuxResources{Unified: map[string]string{"memory": "1"}}, "not an interface file name"},
		{"file missing", specs.LinuxResources{Unified: map[string]string{"hugetlb.3MB.max": "1"}}, "hugetlb.3MB.max does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, dir := fakeTree(t, "cpu hugetlb")
			err := Set(root, dir, &c.r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Set: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestCheckBeforeUpdate(t *testing.T) {
	root, dir := fakeTree(t, "memory", "memory.max")
	writeTest(t, filepath.Join(dir, "memory.current"), "5000\n")
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(4096)), CheckBeforeUpdate: ptr(true)}}
	if err := Set(root, dir, r); err == nil || !strings.Contains(err.Error(), "below the current memory usage 5000") {
		t.Fatalf("Set below usage: %v", err)
	}
	r.Memory.Limit = ptr(int64(8192))
	if err := Set(root, dir, r); err != nil {
		t.Fatal(err)
	}
	if got := readTest(t, filepath.Join(dir, "memory.max")); got != "8192" {
		t.Errorf("memory.max = %q", got)
	}
}

func TestIOWeightFallsBackToBFQ(t *testing.T) {
	root, dir := fakeTree(t, "io", "io.bfq.weight")
	if err := Set(root, dir, &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(300))}}); err != nil {
		t.Fatal(err)
	}
	if got := readTest(t, filepath.Join(dir, "io.bfq.weight")); got != "300" {
		t.Errorf("io.bfq.weight = %q", got)
	}
}

func TestCPUIdle(t *testing.T) {
	root, dir := fakeTree(t, "cpu", "cpu.idle")
	if err := Set(root, dir, &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr(int64(1))}}); err != nil {
		t.Fatal(err)
	}
	if got := readTest(t, filepath.Join(dir, "cpu.idle")); got != "1" {
		t.Errorf("cpu.idle = %q", got)
	}
	// 0 is written too: it is how an update ends idleness.
	if err := Set(root, dir, &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr(int64(0))}}); err != nil {
		t.Fatal(err)
	}
	if got := readTest(t, filepath.Join(dir, "cpu.idle")); got != "0" {
		t.Errorf("cpu.idle after idle 0 = %q", got)
	}
	// Without the cpu controller it fails, naming the field, as in runc.
	root, dir = fakeTree(t, "memory", "memory.max")
	err := Set(root, dir, &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: ptr(int64(0))}})
	if err == nil || !strings.Contains(err.Error(), "linux.resources.cpu.idle") {
		t.Errorf("idle 0 without the cpu controller: %v", err)
	}
}

// An unlimited memory limit implies unlimited swap, but only where the
// kernel accounts swap: without memory.swap.max it is skipped.
func TestUnlimitedMemoryWithoutSwapAccounting(t *testing.T) {
	root, dir := fakeTree(t, "memory", "memory.max")
	if err := Set(root, dir, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(-1))}}); err != nil {
		t.Fatal(err)
	}
	if got := readTest(t, filepath.Join(dir, "memory.max")); got != "max" {
		t.Errorf("memory.max = %q", got)
	}
	// An explicit swap limit still needs the file.
	err := Set(root, dir, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(100)), Swap: ptr(int64(200))}})
	if err == nil || !strings.Contains(err.Error(), "linux.resources.memory.swap: memory.swap.max does not exist") {
		t.Errorf("swap without swap accounting: %v", err)
	}
}
