package systemd

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	sd "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestParsePath: runc's "slice:prefix:name" convention, the unit and the
// cgroup directory it gives.
func TestParsePath(t *testing.T) {
	for _, c := range []struct {
		path, slice, unit, dir, err string
	}{
		{path: "system.slice:docker:abc", slice: "system.slice", unit: "docker-abc.scope", dir: "/sys/fs/cgroup/system.slice/docker-abc.scope"},
		{path: "machine.slice:libpod:abc", slice: "machine.slice", unit: "libpod-abc.scope", dir: "/sys/fs/cgroup/machine.slice/libpod-abc.scope"},
		{path: "kubepods-burstable-pod12_34.slice:cri-containerd:abc", slice: "kubepods-burstable-pod12_34.slice", unit: "cri-containerd-abc.scope",
			dir: "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_34.slice/cri-containerd-abc.scope"},
		{path: "", slice: "system.slice", unit: "kan-c1.scope", dir: "/sys/fs/cgroup/system.slice/kan-c1.scope"},
		{path: ":crio:abc", slice: "system.slice", unit: "crio-abc.scope", dir: "/sys/fs/cgroup/system.slice/crio-abc.scope"},
		{path: "user.slice::abc", slice: "user.slice", unit: "abc.scope", dir: "/sys/fs/cgroup/user.slice/abc.scope"},
		{path: "system.slice:ignored:my.scope", slice: "system.slice", unit: "my.scope", dir: "/sys/fs/cgroup/system.slice/my.scope"},
		{path: "-.slice:x:abc", slice: "-.slice", unit: "x-abc.scope", dir: "/sys/fs/cgroup/x-abc.scope"},
		{path: "system.slice:x:a-b.slice", slice: "system.slice", unit: "a-b.slice", dir: "/sys/fs/cgroup/a.slice/a-b.slice"},
		{path: "/docker/abc", err: `must be "slice:prefix:name"`},
		{path: "a:b", err: `must be "slice:prefix:name"`},
		{path: "system.slice:docker:", err: "name (after the second colon) is empty"},
		{path: "system:docker:abc", err: "ends in .slice"},
		{path: "a/b.slice:docker:abc", err: "has no /"},
		{path: "a--b.slice:docker:abc", err: "empty component"},
		{path: "-a.slice:docker:abc", err: "empty component"},
		{path: "a-.slice:docker:abc", err: "empty component"},
		{path: "system.slice:docker:a+b", err: `does not allow '+'`},
	} {
		u, err := ParsePath(c.path, "c1", false)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "linux.cgroupsPath") {
				t.Errorf("ParsePath(%q) = %+v, %v; want an error naming linux.cgroupsPath with %q", c.path, u, err, c.err)
			}
			continue
		}
		if err != nil || u.Slice != c.slice || u.Name != c.unit {
			t.Errorf("ParsePath(%q) = %+v, %v; want slice %s unit %s", c.path, u, err, c.slice, c.unit)
			continue
		}
		if dir := u.Dir("/sys/fs/cgroup"); dir != c.dir {
			t.Errorf("ParsePath(%q).Dir = %s, want %s", c.path, dir, c.dir)
		}
	}
}

func TestExpandSlice(t *testing.T) {
	for in, want := range map[string]string{
		"-.slice":         "/",
		"system.slice":    "/system.slice",
		"a-b-c.slice":     "/a.slice/a-b.slice/a-b-c.slice",
		"user-1000.slice": "/user.slice/user-1000.slice",
	} {
		if got, err := ExpandSlice(in); err != nil || got != want {
			t.Errorf("ExpandSlice(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{".slice", "a", "a.scope", "a-.slice", "a--b.slice", "a/b.slice"} {
		if got, err := ExpandSlice(bad); err == nil {
			t.Errorf("ExpandSlice(%q) = %q, want an error", bad, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// props renders properties as "Name=value" for comparison.
func props(ps []sd.Property) map[string]string {
	m := map[string]string{}
	for _, p := range ps {
		m[p.Name] = fmt.Sprint(p.Value.Value())
	}
	return m
}

// TestProperties: each resource systemd has a property for becomes that
// property, converted as the cgroup file's value is; the others none.
func TestProperties(t *testing.T) {
	noNames := func(string, int64) string { return "" }
	inf := fmt.Sprint(uint64(math.MaxUint64))
	for _, c := range []struct {
		name string
		r    specs.LinuxResources
		want map[string]string
		err  string
	}{
		{name: "empty", r: specs.LinuxResources{}, want: map[string]string{}},
		{name: "docker zeros", r: specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}, BlockIO: &specs.LinuxBlockIO{}}, want: map[string]string{}},
		{name: "memory", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20)), Reservation: ptr(int64(32 << 20)), Swap: ptr(int64(96 << 20))}},
			want: map[string]string{"MemoryMax": "67108864", "MemoryLow": "33554432", "MemorySwapMax": "33554432"}},
		{name: "memory unlimited", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(-1))}},
			want: map[string]string{"MemoryMax": inf, "MemorySwapMax": inf}},
		{name: "swap below limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(100)), Swap: ptr(int64(50))}}, err: "linux.resources.memory.swap"},
		{name: "cpu", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(1024)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Cpus: "0-1,3", Mems: "0"}},
			want: map[string]string{"CPUWeight": "39", "CPUQuotaPerSecUSec": "500000", "CPUQuotaPeriodUSec": "100000", "AllowedCPUs": "[11]", "AllowedMemoryNodes": "[1]"}},
		// systemd keeps 10 ms steps: 12345/100000 s per s is 123450 µs,
		// rounded up to 130000.
		{name: "cpu quota rounded", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr(int64(12345))}},
			want: map[string]string{"CPUQuotaPerSecUSec": "130000"}},
		{name: "cpu period alone", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr(uint64(50000))}},
			want: map[string]string{"CPUQuotaPerSecUSec": inf, "CPUQuotaPeriodUSec": "50000"}},
		{name: "cpus high", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "9"}}, want: map[string]string{"AllowedCPUs": "[0 2]"}},
		{name: "cpus bad", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "1-x"}}, err: "linux.resources.cpu.cpus"},
		{name: "shares bad", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(1))}}, err: "linux.resources.cpu.shares"},
		{name: "pids", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(100))}}, want: map[string]string{"TasksMax": "100"}},
		{name: "pids unlimited", r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(-1))}}, want: map[string]string{"TasksMax": inf}},
		{name: "io", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
			Weight:                  ptr(uint16(500)),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr(uint16(1000))}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 253, Minor: 1}, Rate: 0}},
		}}, want: map[string]string{"IOWeight": "4950", "IODeviceWeight": "[{/dev/block/8:0 10000}]",
			"IOReadBandwidthMax": "[{/dev/block/8:0 1048576}]", "IOWriteIOPSMax": "[{/dev/block/253:1 " + inf + "}]"}},
		{name: "io weight bad", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(5))}}, err: "linux.resources.blockIO.weight"},
	} {
		got, err := Properties(&c.r, nil, noNames)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want one naming %s", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if g := props(got); !reflect.DeepEqual(g, c.want) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, g, c.want)
		}
	}
}

// TestDeviceProperties: a list that denies all then allows becomes
// DevicePolicy=strict with a DeviceAllow per rule; a list systemd cannot
// say (a deny after an allow, everything allowed) gives no property, kan's
// own filter alone deciding.
func TestDeviceProperties(t *testing.T) {
	names := func(typ string, major int64) string {
		if typ == "c" && major == 136 {
			return "pts"
		}
		return ""
	}
	i := func(v int64) *int64 { return &v }
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	rules := []specs.LinuxDeviceCgroup{
		denyAll,
		{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: i(136), Access: "rw"},
		{Allow: true, Type: "b", Access: "m"},
		{Allow: true, Type: "a", Major: i(7), Minor: i(0), Access: "r"},
	}
	got := props(mustProps(t, rules, names))
	want := map[string]string{"DevicePolicy": "strict",
		"DeviceAllow": "[{/dev/char/1:3 rwm} {char-pts rw} {block-* m} {/dev/char/7:0 r} {/dev/block/7:0 r}]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for name, rules := range map[string][]specs.LinuxDeviceCgroup{
		"no leading deny":    rules[1:],
		"a later deny":       append(append([]specs.LinuxDeviceCgroup{}, rules...), specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: i(1), Minor: i(3), Access: "w"}),
		"allow all":          {denyAll, {Allow: true, Access: "rwm"}},
		"major without name": {denyAll, {Allow: true, Type: "c", Major: i(99), Access: "rwm"}},
	} {
		if got := props(mustProps(t, rules, names)); len(got) != 0 {
			t.Errorf("%s: %v, want no device property", name, got)
		}
	}
}

func mustProps(t *testing.T, rules []specs.LinuxDeviceCgroup, names func(string, int64) string) []sd.Property {
	t.Helper()
	p, err := Properties(nil, rules, names)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUserUnit: a rootless kan's unit defaults to user.slice of the
// user's instance, and its cgroup is under the instance's own.
func TestUserUnit(t *testing.T) {
	u, err := ParsePath("", "c1", true)
	if err != nil || u.Slice != "user.slice" || u.Name != "kan-c1.scope" {
		t.Fatalf("ParsePath(\"\", user) = %+v, %v; want kan-c1.scope in user.slice", u, err)
	}
	u.Manager = "/user.slice/user-1000.slice/user@1000.service"
	if dir, want := u.Dir("/sys/fs/cgroup"), "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/user.slice/kan-c1.scope"; dir != want {
		t.Fatalf("Dir = %s, want %s", dir, want)
	}
	// Podman's rootless path names the slice itself.
	u, err = ParsePath("user.slice:libpod:abc", "abc", true)
	if err != nil || u.Slice != "user.slice" || u.Name != "libpod-abc.scope" {
		t.Fatalf("ParsePath(user.slice:libpod:abc) = %+v, %v", u, err)
	}
}

// TestHostUID: the uid the bus knows kan by, through the uid map of
// kan's user namespace (rootless Podman's: 0 is the user, the rest its
// subordinate range) or of the host (the identity).
func TestHostUID(t *testing.T) {
	podman := "         0       1000          1\n         1     100000      65536\n"
	for _, c := range []struct {
		m        string
		uid, out int
		ok       bool
	}{
		{podman, 0, 1000, true},
		{podman, 5, 100004, true},
		{podman, 65537, 0, false},
		{"         0          0 4294967295\n", 1000, 1000, true},
	} {
		if out, ok := HostUID(c.m, c.uid); out != c.out || ok != c.ok {
			t.Errorf("HostUID(%q, %d) = %d, %v; want %d, %v", c.m, c.uid, out, ok, c.out, c.ok)
		}
	}
}

// TestUserBusAddress: $DBUS_SESSION_BUS_ADDRESS, else the instance's
// socket in $XDG_RUNTIME_DIR; neither is an error that says what is
// missing.
func TestUserBusAddress(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if _, err := userBusAddress(getenv); err == nil || !strings.Contains(err.Error(), "XDG_RUNTIME_DIR") {
		t.Fatalf("no environment: %v", err)
	}
	env["XDG_RUNTIME_DIR"] = dir
	if _, err := userBusAddress(getenv); err == nil || !strings.Contains(err.Error(), dir+"/bus") || !strings.Contains(err.Error(), "enable-linger") {
		t.Fatalf("no bus socket: %v", err)
	}
	os.WriteFile(dir+"/bus", nil, 0o600)
	if a, err := userBusAddress(getenv); err != nil || a != "unix:path="+dir+"/bus" {
		t.Fatalf("bus socket: %q, %v", a, err)
	}
	env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/elsewhere"
	if a, err := userBusAddress(getenv); err != nil || a != "unix:path=/elsewhere" {
		t.Fatalf("DBUS_SESSION_BUS_ADDRESS: %q, %v", a, err)
	}
}
