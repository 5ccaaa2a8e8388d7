package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func withoutNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	var kept []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			kept = append(kept, ns)
		}
	}
	s.Linux.Namespaces = kept
}

// TestFieldBadInput: one or more bad values per field group. Each fails
// create with an error naming the field, and leaves nothing behind: no
// state directory, no cgroup, no host mount, no host setting changed.
func TestFieldBadInput(t *testing.T) {
	e := newEnv(t)
	swappiness, _ := os.ReadFile("/proc/sys/vm/swappiness")
	portStart, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	shmmni, _ := os.ReadFile("/proc/sys/kernel/shmmni")
	// joinOwn makes the config join, by path, the namespace of type t that
	// kan runs in (kan is this test's child, in its namespaces).
	joinOwn := func(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
		withoutNamespace(s, t)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
	}
	// A CPU and a NUMA node past the last the kernel could ever bring up.
	noCPU := pastLast(t, "/sys/devices/system/cpu/possible")
	noNode := pastLast(t, "/sys/devices/system/node/possible")
	cases := []struct {
		name string
		edit func(*specs.Spec)
		want string // "a|b": the error must name a and b
	}{
		// linux.devices
		{"device with bad type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/bad", Type: "x", Major: 1, Minor: 3}}
		}, "linux.devices[0].type"},
		{"device outside /dev", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/etc/null", Type: "c", Major: 1, Minor: 3}}
		}, "linux.devices[0].path"},
		{"device missing on the host in a user namespace", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kan-no-such-device", Type: "c", Major: 1, Minor: 3}}
		}, "linux.devices[0] (/dev/kan-no-such-device)"},
		// linux.sysctl
		{"net sysctl without a network namespace", func(s *specs.Spec) {
			withoutNamespace(s, specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "linux.sysctl: |net.ipv4.ip_forward"},
		{"ipc sysctl without an ipc namespace", func(s *specs.Spec) {
			withoutNamespace(s, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
		}, "linux.sysctl: |kernel.shmmax"},
		{"uts sysctl without a uts namespace", func(s *specs.Spec) {
			withoutNamespace(s, specs.UTSNamespace)
			s.Hostname = ""
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"}
		}, "linux.sysctl: |kernel.domainname"},
		{"net sysctl in kan own network namespace, by /proc/self", func(s *specs.Spec) {
			joinOwn(s, specs.NetworkNamespace, "/proc/self/ns/net")
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "1"}
		}, "linux.sysctl|not allowed in host network namespace"},
		{"net sysctl in kan own network namespace, by another path", func(s *specs.Spec) {
			joinOwn(s, specs.NetworkNamespace, fmt.Sprintf("/proc/%d/ns/net", os.Getpid()))
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "1"}
		}, "linux.sysctl|not allowed in host network namespace"},
		{"ipc sysctl in kan own ipc namespace", func(s *specs.Spec) {
			joinOwn(s, specs.IPCNamespace, "/proc/self/ns/ipc")
			s.Linux.Sysctl = map[string]string{"kernel.shmmni": "17"}
		}, "linux.sysctl|not allowed in host ipc namespace"},
		{"uts sysctl in kan own uts namespace", func(s *specs.Spec) {
			joinOwn(s, specs.UTSNamespace, "/proc/self/ns/uts")
			s.Hostname = ""
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "kan-test"}
		}, "linux.sysctl|not allowed in host uts namespace"},
		{"sysctl of no namespace", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, "linux.sysctl: |vm.swappiness"},
		{"sysctl that does not exist", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.kan_no_such": "1"} }, "linux.sysctl net.ipv4.kan_no_such"},
		// id mappings
		{"overlapping uid mappings", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings = append(s.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 1000, HostID: 300000, Size: 10})
		}, "linux.uidMappings[1]"},
		{"overlapping host gid ranges", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.GIDMappings = append(s.Linux.GIDMappings, specs.LinuxIDMapping{ContainerID: 70000, HostID: 100010, Size: 10})
		}, "linux.gidMappings[1]"},
		{"user namespace without mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "linux.uidMappings"},
		// process attributes
		{"oomScoreAdj out of range", func(s *specs.Spec) { v := 5000; s.Process.OOMScoreAdj = &v }, "process.oomScoreAdj"},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FOO", Soft: 1, Hard: 1}} }, "process.rlimits[0].type"},
		{"unknown scheduler policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FAST"} }, "process.scheduler.policy"},
		{"SCHED_FIFO priority out of range", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 200}
		}, "process.scheduler"},
		{"unknown ioPriority class", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_FAST"} }, "process.ioPriority.class"},
		{"ioPriority level out of range", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 9}
		}, "process.ioPriority.priority"},
		{"execCPUAffinity not a list", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "one"} }, "process.execCPUAffinity.final"},
		{"execCPUAffinity of a CPU the host lacks", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: noCPU} }, "process.execCPUAffinity.final"},
		{"execCPUAffinity initial of a CPU the host lacks", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: noCPU} }, "process.execCPUAffinity.initial"},
		{"unknown personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"} }, "linux.personality.domain"},
		// linux.memoryPolicy
		{"MPOL_BIND without nodes", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind} }, "linux.memoryPolicy.nodes"},
		{"unknown memory policy mode", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_FAST", Nodes: "0"} }, "linux.memoryPolicy.mode"},
		{"MPOL_LOCAL with nodes", func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolLocal, Nodes: "0"}
		}, "linux.memoryPolicy.nodes"},
		{"memory policy on a node the host lacks", func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: noNode}
		}, "linux.memoryPolicy"},
		{"static and relative nodes together", func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0",
				Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes, specs.MpolFRelativeNodes}}
		}, "linux.memoryPolicy"},
		{"unknown memory policy flag", func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{"MPOL_F_FAST"}}
		}, "linux.memoryPolicy.flags"},
		// linux.timeOffsets
		{"timeOffsets without a time namespace", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 1}}
		}, "linux.timeOffsets"},
		{"timeOffsets of an unknown clock", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 1}}
		}, "linux.timeOffsets"},
		// hostname
		{"hostname without a uts namespace", func(s *specs.Spec) { withoutNamespace(s, specs.UTSNamespace) }, "hostname"},
		// resctrl, which this host does not have (LSMs below)
		{"intelRdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "kan"} }, "linux.intelRdt"},
	}
	// LSMs the host does not run are refused as not enabled; where
	// AppArmor runs, a profile it has not loaded is refused. Whether an
	// SELinux label is valid depends on the host's policy: not tried there.
	type badCase = struct {
		name string
		edit func(*specs.Spec)
		want string
	}
	apparmor := func(s *specs.Spec) { s.Process.ApparmorProfile = "kan-test" }
	if hostAppArmor() {
		cases = append(cases, badCase{"apparmorProfile not loaded", apparmor, "process.apparmorProfile|no such AppArmor profile is loaded"})
	} else {
		cases = append(cases, badCase{"apparmorProfile without AppArmor", apparmor, "process.apparmorProfile|AppArmor is not enabled"})
	}
	if hostSELinux() {
		t.Log("SELinux is enabled here: the selinuxLabel and mountLabel cases are not tried")
	} else {
		cases = append(cases,
			badCase{"selinuxLabel without SELinux", func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" },
				"process.selinuxLabel|SELinux is not enabled"},
			badCase{"mountLabel without SELinux", func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" },
				"linux.mountLabel|SELinux is not enabled"})
	}
	before := hostMounts(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			b := newBundle(t, "true")
			c.edit(b.Spec)
			id := newID(t)
			want, also, _ := strings.Cut(c.want, "|")
			r := e.fails(want, "create", "--bundle", b.write(t), id)
			e.assertGone(id)
			if !strings.Contains(r.stderr, also) {
				t.Errorf("error does not name %q: %v", also, r)
			}
		})
	}
	if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
		t.Error("host mount table changed:\n" + strings.Join(diff, "\n"))
	}
	if entries, _ := os.ReadDir(e.root); len(entries) > 1 {
		t.Errorf("state root not clean: %v", entries)
	}
	for file, was := range map[string][]byte{
		"/proc/sys/vm/swappiness":                       swappiness,
		"/proc/sys/net/ipv4/ip_unprivileged_port_start": portStart,
		"/proc/sys/kernel/shmmni":                       shmmni,
	} {
		if now, _ := os.ReadFile(file); string(now) != string(was) {
			t.Errorf("host %s changed to %q (was %q)", file, now, was)
		}
	}
}

// veth makes a veth pair kn<n>a/kn<n>b on the host, with 10.231.<n>.1/24
// on the a end, and returns the a end's name. The pair is gone when the
// test ends.
func veth(t *testing.T, n int) string {
	t.Helper()
	a, b := fmt.Sprintf("kn%d%da", os.Getpid()%10000, n), fmt.Sprintf("kn%d%db", os.Getpid()%10000, n)
	for _, args := range [][]string{
		{"link", "add", a, "type", "veth", "peer", "name", b},
		{"addr", "add", fmt.Sprintf("10.231.%d.1/24", n), "dev", a},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", b).Run()
		exec.Command("ip", "link", "del", a).Run()
	})
	return a
}

func hostHasLink(name string) bool {
	return exec.Command("ip", "link", "show", name).Run() == nil
}

// TestNetDevices: linux.netDevices moves a host interface into the
// container's network namespace, renamed, with its address, up; the host
// no longer has it.
func TestNetDevices(t *testing.T) {
	e := newEnv(t)
	for i, c := range []struct {
		name   string
		userns bool
		rename string
	}{{"renamed", false, "eth7"}, {"kept name", false, ""}, {"in a user namespace", true, "eth8"}} {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			n := 10 + i
			dev := veth(t, n)
			inside := c.rename
			if inside == "" {
				inside = dev
			}
			b := newBundle(t, "sh", "-c", "ip -o addr show "+inside+"; ip -o link show "+inside)
			if c.userns {
				withUserNS(b.Spec)
			}
			b.Spec.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: c.rename}}
			out := e.mustRun(b)
			if !strings.Contains(out, fmt.Sprintf("inet 10.231.%d.1/24", n)) {
				t.Errorf("address not moved with %s: %q", dev, out)
			}
			if !strings.Contains(out, inside+"@") && !strings.Contains(out, inside+":") || !strings.Contains(out, ",UP") {
				t.Errorf("interface %s not present and up inside: %q", inside, out)
			}
			if hostHasLink(dev) {
				t.Errorf("%s still on the host", dev)
			}
		})
	}
}

// TestSysctlOfDottedInterface: a sysctl key in the slash form keeps the
// dots of an interface name (sysctl(8)'s convention), here for an
// interface moved in with linux.netDevices.
func TestSysctlOfDottedInterface(t *testing.T) {
	e := newEnv(t)
	dev := veth(t, 40)
	b := newBundle(t, "cat", "/proc/sys/net/ipv4/conf/eth5.1/forwarding", "/proc/sys/net/ipv4/conf/lo/forwarding")
	b.Spec.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "eth5.1"}}
	b.Spec.Linux.Sysctl = map[string]string{"net/ipv4/conf/eth5.1/forwarding": "1"}
	if out := e.mustRun(b); out != "1\n0\n" {
		t.Errorf("forwarding of eth5.1 and lo: %q, want 1 and 0", out)
	}
}

func TestNetDevicesBadInput(t *testing.T) {
	e := newEnv(t)
	dev := veth(t, 20)
	before := hostMounts(t)
	for _, c := range []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"no network namespace", func(s *specs.Spec) {
			withoutNamespace(s, specs.NetworkNamespace)
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "eth0"}}
		}, "linux.netDevices"},
		{"no such interface", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"kannosuch0": {Name: "eth0"}}
		}, "linux.netDevices[kannosuch0]"},
		{"bad new name", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "eth0/x"}}
		}, "linux.netDevices[" + dev + "]"},
		{"name taken inside", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "lo"}}
		}, "linux.netDevices[" + dev + "]"},
		// The spec: a move must be reverted when create fails.
		{"a later interface missing", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "eth0"}, "zznosuch0": {}}
		}, "linux.netDevices[zznosuch0]"},
		{"create failing after the move", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "eth0"}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=bogus"}})
		}, "mounts[7]"},
		{"program missing after the move, same name", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {}}
			s.Process.Args = []string{"/no/such/program"}
		}, "/no/such/program"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			b := newBundle(t, "true")
			c.edit(b.Spec)
			id := newID(t)
			e.fails(c.want, "create", "--bundle", b.write(t), id)
			e.assertGone(id)
			if !hostHasLink(dev) {
				t.Fatalf("%s left the host after a failed create", dev)
			}
			if out, _ := exec.Command("ip", "-o", "addr", "show", dev).Output(); !strings.Contains(string(out), "10.231.20.1/24") {
				t.Errorf("%s came back without its address: %q", dev, out)
			}
		})
	}
	if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
		t.Error("host mount table changed:\n" + strings.Join(diff, "\n"))
	}
}

// TestCapabilityOutsideBoundingSet: a capability kan itself does not have
// (its caller's bounding set lacks it) cannot be given. The spec: such a
// capability "MUST be logged as a warning", and runtimes "SHOULD NOT fail"
// — so the container runs without it, and kan says so.
func TestCapabilityOutsideBoundingSet(t *testing.T) {
	own := ownBoundingSet(t)
	missing := ""
	var bit uint
	for _, c := range capability.ListKnown() {
		last, _ := capability.LastCap()
		if c <= last && own&(1<<uint(c)) == 0 {
			missing, bit = "CAP_"+strings.ToUpper(c.String()), uint(c)
			break
		}
	}
	if missing == "" {
		t.Skip("kan runs here with every capability the kernel has")
	}
	e := newEnv(t)
	b := newBundle(t, "grep", "CapBnd", "/proc/self/status")
	b.Spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: []string{missing, "CAP_KILL"}, Permitted: []string{missing}, Effective: []string{missing},
	}
	r := e.run(b)
	if r.code != 0 || !strings.Contains(r.stderr, missing) || !strings.Contains(r.stderr, "warning") {
		t.Fatalf("a capability kan lacks: %v; want success and a warning naming %s", r, missing)
	}
	var bnd uint64
	fmt.Sscanf(strings.TrimPrefix(strings.TrimSpace(r.stdout), "CapBnd:"), "%x", &bnd)
	if bnd&(1<<bit) != 0 || bnd != 1<<5 {
		t.Fatalf("CapBnd %#x: want only CAP_KILL", bnd)
	}
	e.assertGone(newID(t))
}
