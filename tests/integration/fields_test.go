package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fieldCase is one config field, set by edit, observed from inside the
// container by script, whose output must contain every want (or match
// every wantRE).
type fieldCase struct {
	name   string
	edit   func(*specs.Spec)
	script string
	want   []string
	wantRE []string
}

func runFieldCases(t *testing.T, cases []fieldCase) {
	t.Helper()
	e := newEnv(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			b := newBundle(t, "sh", "-c", c.script)
			c.edit(b.Spec)
			c.check(t, e.mustRun(b))
		})
	}
}

// check reports what of the case's expectations out misses.
func (c fieldCase) check(t *testing.T, out string) {
	t.Helper()
	for _, w := range c.want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, re := range c.wantRE {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
}

func u32(v uint32) *uint32 { return &v }

// TestProcessFields: each process field, seen from inside.
func TestProcessFields(t *testing.T) {
	runFieldCases(t, processFieldCases(t))
}

// processFieldCases set each process field (and the linux fields that
// apply to the process: personality, memory policy) and observe it from
// inside. TestExecProcessFields gives the same to kan exec.
func processFieldCases(t *testing.T) []fieldCase {
	// /proc/self/stat of cut itself: 19 is nice, 40 rt_priority, 41 policy.
	const stat = "cut -d' ' -f19,40,41 /proc/self/stat"
	cases := []fieldCase{
		{"oomScoreAdj", func(s *specs.Spec) { v := 123; s.Process.OOMScoreAdj = &v }, "cat /proc/self/oom_score_adj", []string{"123\n"}, nil},
		{"hostname and domainname", func(s *specs.Spec) { s.Hostname, s.Domainname = "box1", "example.org" },
			"uname -n; cat /proc/sys/kernel/domainname", []string{"box1\nexample.org\n"}, nil},
		{"rlimits", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{
				{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}, {Type: "RLIMIT_CORE", Soft: 4096, Hard: 8192},
				{Type: "RLIMIT_NPROC", Soft: 300, Hard: 400}, {Type: "RLIMIT_MSGQUEUE", Soft: 1000, Hard: 1000},
			}
		}, "cat /proc/self/limits", nil, []string{
			`Max open files +100 +200 +files`, `Max core file size +4096 +8192 +bytes`,
			`Max processes +300 +400 +processes`, `Max msgqueue size +1000 +1000 +bytes`}},
		{"ambient capabilities as root", func(s *specs.Spec) {
			c := []string{"CAP_NET_BIND_SERVICE", "CAP_SYS_NICE"} // 10, 23
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c, Inheritable: c, Ambient: c[:1]}
		}, "grep Cap /proc/self/status", []string{"CapInh:\t0000000000800400", "CapPrm:\t0000000000800400",
			"CapEff:\t0000000000800400", "CapBnd:\t0000000000800400", "CapAmb:\t0000000000000400"}, nil},
		{"noNewPrivileges false", func(s *specs.Spec) { s.Process.NoNewPrivileges = false }, "grep NoNewPrivs /proc/self/status", []string{"NoNewPrivs:\t0"}, nil},
		{"noNewPrivileges true", func(s *specs.Spec) { s.Process.NoNewPrivileges = true }, "grep NoNewPrivs /proc/self/status", []string{"NoNewPrivs:\t1"}, nil},
		{"umask", func(s *specs.Spec) {
			s.Process.User.Umask = u32(0o077)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
		}, "umask; touch /tmp/f; stat -c %a /tmp/f",
			[]string{"0077\n600\n"}, nil},
		{"user and additionalGids", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 2000, AdditionalGids: []uint32{3000, 4000}}
		}, "grep -E '^(Uid|Gid|Groups)' /proc/self/status", []string{"Uid:\t1000\t1000\t1000\t1000", "Gid:\t2000\t2000\t2000\t2000", "Groups:\t3000 4000"}, nil},
		{"uid and gid mappings", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}, {ContainerID: 1000, HostID: 201000, Size: 500}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 300000, Size: 65536}}
		}, "cat /proc/self/uid_map /proc/self/gid_map; id -u", nil, []string{
			`^ +0 +100000 +1000\n +1000 +201000 +500\n +0 +300000 +65536\n0\n$`}},
		{"personality LINUX32", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32} },
			"uname -m; cat /proc/self/personality", []string{"i686\n", "00000008\n"}, nil},
		{"personality LINUX", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux} },
			"uname -m", []string{"x86_64\n"}, nil},
		{"scheduler SCHED_BATCH nice 5", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
		}, stat, []string{"5 0 3\n"}, nil},
		{"scheduler SCHED_IDLE", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedIdle} }, stat, []string{"0 0 5\n"}, nil},
		{"scheduler SCHED_FIFO priority 10", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedFIFO, Priority: 10}
		}, stat, []string{"0 10 1\n"}, nil},
		{"scheduler SCHED_RR priority 3 reset-on-fork", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedRR, Priority: 3, Flags: []specs.LinuxSchedulerFlag{specs.SchedFlagResetOnFork}}
		}, // the shell has the policy; cut, its child, is reset to SCHED_OTHER.
			"cut -d' ' -f40,41 /proc/$$/stat; " + stat + "; true", []string{"3 2\n0 0 0\n"}, nil},
		{"ioPriority best-effort 3", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 3}
		}, "ionice -p $$", []string{"best-effort: prio 3"}, nil},
		{"ioPriority idle", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE} },
			"ionice -p $$", []string{"idle"}, nil},
		{"ioPriority realtime 2", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 2}
		}, "ionice -p $$", []string{"realtime: prio 2"}, nil},
		{"memoryPolicy MPOL_LOCAL", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolLocal} },
			"cat /proc/self/numa_maps", []string{" local "}, nil},
		{"memoryPolicy MPOL_DEFAULT", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolDefault} },
			"cat /proc/self/numa_maps", []string{" default "}, nil},
	}
	// What the host may lack is tried where it has it.
	if err := deadlineRefused(); err != nil {
		t.Logf("this host refuses SCHED_DEADLINE (%v): not tried", err)
	} else {
		cases = append(cases, fieldCase{"scheduler SCHED_DEADLINE", func(s *specs.Spec) {
			rt, dl, per := uint64(10_000_000), uint64(50_000_000), uint64(100_000_000)
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedDeadline, Runtime: rt, Deadline: dl, Period: per}
		}, // /proc/self/sched shows the policy and what is left of the runtime (at most 10 ms, 8 digits).
			"grep -E '^(policy|dl\\.runtime)' /proc/self/sched", nil, []string{`policy +: +6\n`, `dl\.runtime +: +\d{1,8}\n`}})
	}
	if a, b, ok := twoCPUs(t); !ok {
		t.Log("this process may run on one CPU only: execCPUAffinity not tried")
	} else {
		one, both := strconv.Itoa(b), fmt.Sprintf("%d-%d", a, b)
		if b != a+1 {
			both = fmt.Sprintf("%d,%d", a, b)
		}
		allowed := "grep Cpus_allowed_list /proc/self/status"
		cases = append(cases,
			fieldCase{"execCPUAffinity final", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: one} },
				allowed, []string{"Cpus_allowed_list:\t" + one + "\n"}, nil},
			// Initial holds only until the process joins the container's
			// cgroup (config.md): where the cpuset controller is active
			// there, joining gives the process the cgroup's CPUs.
			fieldCase{"execCPUAffinity initial only", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: one} },
				allowed, []string{"Cpus_allowed_list:\t" + afterJoin(one) + "\n"}, nil},
			fieldCase{"execCPUAffinity initial and final", func(s *specs.Spec) {
				s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: one, Final: both}
			}, allowed, []string{"Cpus_allowed_list:\t" + both + "\n"}, nil})
	}
	if n := memNode(t); n == "" {
		t.Log("no NUMA node with memory that this process may use: memory policies with nodes not tried")
	} else {
		// MPOL_F_RELATIVE_NODES counts within the allowed nodes: 0 is
		// the lowest, n.
		numaMaps := "cat /proc/self/numa_maps"
		cases = append(cases,
			fieldCase{"memoryPolicy MPOL_BIND", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: n} },
				numaMaps, []string{" bind:" + n + " "}, nil},
			fieldCase{"memoryPolicy MPOL_BIND static", func(s *specs.Spec) {
				s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: n, Flags: []specs.MemoryPolicyFlagType{specs.MpolFStaticNodes}}
			}, numaMaps, []string{" bind=static:" + n + " "}, nil},
			fieldCase{"memoryPolicy MPOL_INTERLEAVE relative", func(s *specs.Spec) {
				s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolInterleave, Nodes: "0", Flags: []specs.MemoryPolicyFlagType{specs.MpolFRelativeNodes}}
			}, numaMaps, []string{" interleave=relative:" + n + " "}, nil},
			fieldCase{"memoryPolicy MPOL_PREFERRED", func(s *specs.Spec) {
				s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolPreferred, Nodes: n}
			}, numaMaps, []string{" prefer:" + n + " "}, nil})
	}
	return cases
}

// TestTimeOffsets: linux.timeOffsets shift the clocks of the new time
// namespace.
func TestTimeOffsets(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "cat /proc/self/timens_offsets; cut -d' ' -f1 /proc/uptime")
	b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	b.Spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400 * 1000}, "monotonic": {Secs: 7200, Nanosecs: 5}}
	out := e.mustRun(b)
	for _, re := range []string{`monotonic +7200 +5\n`, `boottime +86400000 +0\n`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("timens_offsets do not match %s:\n%s", re, out)
		}
	}
	host, _ := os.ReadFile("/proc/uptime")
	hostUp, _ := strconv.ParseFloat(strings.Fields(string(host))[0], 64)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	got, _ := strconv.ParseFloat(lines[len(lines)-1], 64)
	if d := got - hostUp - 86400000; d < -5 || d > 5 {
		t.Errorf("uptime inside %v, host %v: not shifted by the boottime offset", got, hostUp)
	}
}

// TestLinuxFields: namespaced kernel settings and paths, from inside.
func TestLinuxFields(t *testing.T) {
	hostForward, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	hostShmmax, _ := os.ReadFile("/proc/sys/kernel/shmmax")
	runFieldCases(t, []fieldCase{
		{"sysctl", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{
				"net.ipv4.ip_forward": "1", "net/ipv4/conf/all/forwarding": "1", "kernel.shmmax": "123456789",
				"fs.mqueue.queues_max": "77", "kernel.domainname": "sysctl.example",
			}
		}, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/all/forwarding /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/queues_max /proc/sys/kernel/domainname",
			[]string{"1\n1\n123456789\n77\nsysctl.example\n"}, nil},
		{"sysctl in a user namespace", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "80", "kernel.shmmni": "100"}
		}, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni", []string{"80\n100\n"}, nil},
		{"maskedPaths", func(s *specs.Spec) {
			s.Linux.MaskedPaths = []string{"/etc/hostname", "/home", "/no/such/path"}
		}, "wc -c </etc/hostname; ls -A /home | wc -l; touch /home/x 2>&1; grep ' /home ' /proc/self/mountinfo",
			[]string{"0\n0\n", "Read-only file system"}, []string{` /home ro[, ].* - tmpfs `}},
		{"default maskedPaths", func(s *specs.Spec) {}, "wc -c </proc/timer_list; wc -c </proc/keys; ls -A /proc/acpi | wc -l; ls -A /sys/firmware | wc -l",
			[]string{"0\n0\n0\n0\n"}, nil},
		{"readonlyPaths", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
			s.Linux.ReadonlyPaths = []string{"/tmp", "/proc/sys", "/no/such/path"}
		}, "touch /tmp/x 2>&1; echo 1 >/proc/sys/kernel/shmmax 2>&1 || echo sysctl-refused; grep -E ' /(tmp|proc/sys) ' /proc/self/mountinfo",
			[]string{"touch: /tmp/x: Read-only file system", "sysctl-refused"}, []string{` /tmp ro[, ]`, ` /proc/sys ro[, ]`}},
	})
	if data, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(data) != string(hostForward) {
		t.Errorf("host net.ipv4.ip_forward changed: %q, was %q", data, hostForward)
	}
	if data, _ := os.ReadFile("/proc/sys/kernel/shmmax"); string(data) != string(hostShmmax) {
		t.Errorf("host kernel.shmmax changed: %q, was %q", data, hostShmmax)
	}
}

// TestDevFields: linux.devices, the default devices and links, and the
// /dev mounts, with and without a user namespace.
func TestDevFields(t *testing.T) {
	mode := os.FileMode(0o640)
	devs := func(s *specs.Spec) {
		s.Linux.Devices = []specs.LinuxDevice{
			{Path: "/dev/kanfull", Type: "c", Major: 1, Minor: 7, FileMode: &mode, UID: u32(1000), GID: u32(2000)},
			{Path: "/dev/sub/kanblk", Type: "b", Major: 7, Minor: 0},
			{Path: "/dev/kanfifo", Type: "p"},
		}
	}
	const defaults = "stat -c '%n %t:%T %a %F' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; " +
		"for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done; (echo x >/dev/full) 2>&1; head -c 3 /dev/zero | wc -c"
	runFieldCases(t, []fieldCase{
		{"linux.devices", devs, "stat -c '%n %t:%T %a %u:%g %F' /dev/kanfull /dev/sub/kanblk; stat -c '%n %F' /dev/kanfifo",
			[]string{"/dev/kanfull 1:7 640 1000:2000 character special file\n", "/dev/sub/kanblk 7:0 ", "block special file\n",
				"/dev/kanfifo fifo\n"}, nil},
		{"default devices and links", func(s *specs.Spec) {}, defaults, []string{
			"/dev/null 1:3 666 character special file\n", "/dev/zero 1:5 666", "/dev/full 1:7 666", "/dev/random 1:8 666",
			"/dev/urandom 1:9 666", "/dev/tty 5:0 666", "fd=/proc/self/fd\n", "stdin=/proc/self/fd/0\n", "stdout=/proc/self/fd/1\n",
			"stderr=/proc/self/fd/2\n", "ptmx=pts/ptmx\n", "No space left on device", "3\n"}, nil},
		{"default devices in a user namespace", withUserNS, defaults, []string{
			"/dev/null 1:3 ", "/dev/zero 1:5 ", "/dev/tty 5:0 ", "ptmx=pts/ptmx\n", "No space left on device", "3\n"}, nil},
		{"linux.devices in a user namespace", func(s *specs.Spec) {
			withUserNS(s)
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
		}, "stat -c '%n %t:%T %F' /dev/kmsg", []string{"/dev/kmsg 1:b character special file\n"}, nil},
		{"dev mounts", func(s *specs.Spec) {}, "cat /proc/self/mountinfo", nil, []string{
			` /dev rw,nosuid[^ ]* - tmpfs tmpfs rw,size=65536k,mode=755`,
			` /dev/pts rw,nosuid,noexec[^ ]* - devpts devpts rw,gid=5,mode=620,ptmxmode=666`,
			` /dev/shm rw,nosuid,nodev,noexec[^ ]* - tmpfs shm rw,size=65536k`,
			` /dev/mqueue rw,nosuid,nodev,noexec[^ ]* - mqueue mqueue rw`}},
	})
}

// afterJoin is the CPU list a process started on cpus has once it joins a
// container's cgroup under kan's default parent: cpus where the cpuset
// controller is not active there (this project's hybrid hosts), the
// cgroup's own CPUs where it is (a systemd host enables it from the root).
func afterJoin(cpus string) string {
	parent := filepath.Join(cgroupRoot, "kan")
	controllers, _ := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.subtree_control"))
	if !slices.Contains(strings.Fields(string(controllers)), "cpuset") {
		return cpus
	}
	effective, err := os.ReadFile(filepath.Join(parent, "cpuset.cpus.effective"))
	if err != nil {
		effective, _ = os.ReadFile(filepath.Join(cgroupRoot, "cpuset.cpus.effective"))
	}
	return strings.TrimSpace(string(effective))
}
