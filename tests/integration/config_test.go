package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var nsTypes = []struct {
	typ  specs.LinuxNamespaceType
	proc string
}{
	{specs.PIDNamespace, "pid"}, {specs.NetworkNamespace, "net"}, {specs.MountNamespace, "mnt"},
	{specs.IPCNamespace, "ipc"}, {specs.UTSNamespace, "uts"}, {specs.UserNamespace, "user"},
	{specs.CgroupNamespace, "cgroup"}, {specs.TimeNamespace, "time"},
}

// nsScript prints "name=ns-link" for every namespace of the shell itself.
const nsScript = `for n in pid net mnt ipc uts user cgroup time; do echo "$n=$(readlink /proc/self/ns/$n)"; done`

// hostMountHolder starts a process in a private copy of the host's mount
// namespace and returns its pid; it is killed when the test ends.
func hostMountHolder(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	self := hostNS(t, os.Getpid(), "mnt")
	waitFor(t, "unshare", func() bool {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", cmd.Process.Pid))
		return link != "" && link != self
	})
	return cmd.Process.Pid
}

func parseNS(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func hostNS(t *testing.T, pid int, name string) string {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// withUserNS maps container root to an unprivileged host range.
func withUserNS(s *specs.Spec) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
}

func TestEveryNamespaceNew(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", nsScript)
	withUserNS(b.Spec)
	b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	got := parseNS(e.mustRun(b))
	self := os.Getpid()
	for _, ns := range nsTypes {
		if got[ns.proc] == "" || got[ns.proc] == hostNS(t, self, ns.proc) {
			t.Errorf("%s namespace: container %q, host %q: want a new one", ns.proc, got[ns.proc], hostNS(t, self, ns.proc))
		}
	}
}

func TestAbsentNamespaceIsShared(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", nsScript)
	var kept []specs.LinuxNamespace
	for _, ns := range b.Spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace || ns.Type == specs.MountNamespace {
			kept = append(kept, ns)
		}
	}
	b.Spec.Linux.Namespaces = kept
	b.Spec.Hostname = ""
	got := parseNS(e.mustRun(b))
	for _, name := range []string{"net", "ipc", "uts", "user", "cgroup"} {
		if got[name] != hostNS(t, os.Getpid(), name) {
			t.Errorf("%s namespace not shared with the host: %q", name, got[name])
		}
	}
}

// TestJoinEveryNamespace joins each namespace type of a running holder
// container by path, the user namespace included (which Go alone cannot
// do in a multi-threaded process: kan's nsenter stage does it).
func TestJoinEveryNamespace(t *testing.T) {
	e := newEnv(t)
	hb := newBundle(t, "sleep", "1000")
	withUserNS(hb.Spec)
	hb.Spec.Hostname = "holder"
	hb.Spec.Linux.Namespaces = append(hb.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	holder := e.create(hb)
	e.must("start", holder)
	hpid := int(e.state(holder)["pid"].(float64))

	for _, ns := range nsTypes {
		t.Run(ns.proc, func(t *testing.T) {
			b := newBundle(t, "sh", "-c", nsScript+"; hostname; id -u")
			var path string
			owner := hpid
			if ns.typ == specs.MountNamespace {
				// A joined mount namespace gets the container's rootfs
				// built in it, from host paths: join one that sees the
				// host's files, not the holder's pivoted one.
				owner = hostMountHolder(t)
			}
			path = fmt.Sprintf("/proc/%d/ns/%s", owner, ns.proc)
			var list []specs.LinuxNamespace
			for _, n := range b.Spec.Linux.Namespaces {
				if n.Type != ns.typ {
					list = append(list, n)
				}
			}
			b.Spec.Linux.Namespaces = append(list, specs.LinuxNamespace{Type: ns.typ, Path: path})
			if ns.typ == specs.UTSNamespace {
				b.Spec.Hostname = ""
			}
			r := e.run(b)
			if r.code != 0 {
				t.Fatalf("run joining %s: %v", path, r)
			}
			got := parseNS(r.stdout)
			if want := hostNS(t, owner, ns.proc); got[ns.proc] != want {
				t.Fatalf("%s namespace %q, want the holder's %q", ns.proc, got[ns.proc], want)
			}
			if ns.typ == specs.UTSNamespace && !strings.Contains(r.stdout, "holder\n") {
				t.Errorf("joined uts namespace but hostname is not the holder's: %q", r.stdout)
			}
			if ns.typ == specs.UserNamespace && !strings.HasSuffix(r.stdout, "\n0\n") {
				t.Errorf("not root inside the joined user namespace: %q", r.stdout)
			}
		})
	}
}

func TestJoinNamespaceOfWrongType(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "true")
	b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces[:0:0], b.Spec.Linux.Namespaces...)
	for i := range b.Spec.Linux.Namespaces {
		if b.Spec.Linux.Namespaces[i].Type == specs.NetworkNamespace {
			b.Spec.Linux.Namespaces[i].Path = "/proc/self/ns/ipc"
		}
	}
	id := newID(t)
	e.fails("is not a network namespace", "create", "--bundle", b.write(t), id)
	e.assertGone(id)
}

func TestPivotAndNoPivot(t *testing.T) {
	e := newEnv(t)
	marker := "/kan-host-marker-" + strconv.Itoa(os.Getpid())
	os.WriteFile(marker, nil, 0o644)
	defer os.Remove(marker)
	for _, args := range [][]string{nil, {"--no-pivot"}} {
		b := newBundle(t, "sh", "-c", "ls /; cat /proc/self/mountinfo | wc -l; ls "+marker+" 2>&1; true")
		out := e.mustRun(b, args...)
		if !strings.Contains(out, "bin") || !strings.Contains(out, "No such file") {
			t.Errorf("%v: container sees %q", args, out)
		}
	}
}

func TestReadonlyRootAndHostname(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "hostname; touch /x 2>&1; touch /tmp/y 2>&1; echo done")
	b.Spec.Hostname = "kan-box"
	out := e.mustRun(b)
	if !strings.Contains(out, "kan-box\n") || strings.Count(out, "Read-only file system") != 2 {
		t.Fatalf("readonly root: %q", out)
	}
}

func TestWritableRootAndMounts(t *testing.T) {
	e := newEnv(t)
	root := t.TempDir() + "/rootfs"
	copyRootfs(t, root)
	hostDir := t.TempDir()
	os.WriteFile(hostDir+"/hello", []byte("from host\n"), 0o644)
	b := newBundle(t, "sh", "-c", "echo hi >/written && cat /data/hello && touch /data/new && cat /proc/self/mounts")
	b.Spec.Root.Path = root
	b.Spec.Root.Readonly = false
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: hostDir, Options: []string{"rbind", "rw"}},
		specs.Mount{Destination: "/ro", Type: "bind", Source: hostDir, Options: []string{"bind", "ro", "nosuid"}},
		specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=700"}},
	)
	out := e.mustRun(b)
	if !strings.Contains(out, "from host") {
		t.Errorf("bind mount content missing: %q", out)
	}
	if _, err := os.Stat(hostDir + "/new"); err != nil {
		t.Errorf("write through rw bind mount not on host: %v", err)
	}
	if data, _ := os.ReadFile(root + "/written"); string(data) != "hi\n" {
		t.Errorf("write to writable root: %q", data)
	}
	for _, want := range []string{" /ro ", "ro,nosuid", " /scratch tmpfs rw", "size=1024k,mode=700"} {
		if !strings.Contains(out, want) {
			t.Errorf("mounts lack %q:\n%s", want, out)
		}
	}
}

func TestUserGroupsCapsRlimits(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "id; umask; grep -E '^(Cap|NoNewPrivs)' /proc/self/status; ulimit -n; ulimit -Hn; pwd")
	mask := uint32(0o027)
	b.Spec.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{3000}, Umask: &mask}
	b.Spec.Process.Cwd = "/home/user"
	b.Spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
		Effective:   []string{"CAP_KILL"},
		Permitted:   []string{"CAP_KILL", "CAP_NET_RAW"},
		Inheritable: []string{"CAP_NET_RAW"},
		Ambient:     []string{"CAP_NET_RAW"},
	}
	b.Spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}}
	b.Spec.Process.NoNewPrivileges = true
	out := e.mustRun(b)
	// CAP_CHOWN=0, CAP_KILL=5, CAP_NET_RAW=13. A non-root program keeps
	// across execve only its ambient capabilities (capabilities(7)).
	for _, want := range []string{
		"uid=1000(user) gid=1000(user) groups=3000",
		"0027",
		"CapInh:\t0000000000002000", "CapPrm:\t0000000000002000", "CapEff:\t0000000000002000",
		"CapBnd:\t0000000000002021", "CapAmb:\t0000000000002000", "NoNewPrivs:\t1",
		"321\n654\n", "/home/user\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// As root under no_new_privs (the default config's), execve keeps the
	// permitted set as it is.
	b = newBundle(t, "sh", "-c", "grep -E '^Cap' /proc/self/status")
	b.Spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: []string{"CAP_CHOWN", "CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
	}
	out = e.mustRun(b)
	for _, want := range []string{"CapInh:\t0000000000000000", "CapPrm:\t0000000000000020", "CapEff:\t0000000000000020", "CapBnd:\t0000000000000021", "CapAmb:\t0000000000000000"} {
		if !strings.Contains(out, want) {
			t.Errorf("root: output lacks %q:\n%s", want, out)
		}
	}
}

func TestEnvAndArgs(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", `echo "$FOO|$HOME|$0|$1"`, "zero", "one two")
	b.Spec.Process.Env = append(b.Spec.Process.Env, "FOO=bar baz")
	if out := e.mustRun(b); out != "bar baz|/root|zero|one two\n" {
		t.Fatalf("env/args: %q", out)
	}
}

func TestCgroupMembership(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "cat", "/proc/self/cgroup")
	b.Spec.Linux.CgroupsPath = "/kan-it/custom-" + strconv.Itoa(os.Getpid())
	// Without a cgroup namespace the container sees its full path.
	var list []specs.LinuxNamespace
	for _, ns := range b.Spec.Linux.Namespaces {
		if ns.Type != specs.CgroupNamespace {
			list = append(list, ns)
		}
	}
	b.Spec.Linux.Namespaces = list
	out := e.mustRun(b)
	if !strings.Contains(out, "0::"+b.Spec.Linux.CgroupsPath+"\n") {
		t.Fatalf("container cgroup: %q, want %s", out, b.Spec.Linux.CgroupsPath)
	}
	if _, err := os.Stat(cgroupRoot + b.Spec.Linux.CgroupsPath); err == nil {
		t.Fatal("cgroup left after run")
	}
	os.Remove(cgroupRoot + "/kan-it")
}

// TestDeviceCgroup: the default config denies every device but the
// standard ones; linux.resources.devices can allow more.
func TestDeviceCgroup(t *testing.T) {
	skipUnlessKmsgReadable(t)
	e := newEnv(t)
	script := "head -c1 /dev/zero | wc -c; mknod /dev/kmsg-test c 1 11 && head -c1 /dev/kmsg-test 2>&1; true"
	b := newBundle(t, "sh", "-c", script)
	b.Spec.Process.Capabilities = allCaps()
	out := e.mustRun(b)
	if !strings.HasPrefix(out, "1\n") || !strings.Contains(out, "Operation not permitted") {
		t.Fatalf("default device rules: %q, want /dev/zero readable and 1:11 denied", out)
	}
	b = newBundle(t, "sh", "-c", script)
	b.Spec.Process.Capabilities = allCaps()
	major, minor := int64(1), int64(11)
	b.Spec.Linux.Resources.Devices = append(b.Spec.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "r"})
	if out := e.mustRun(b); strings.Contains(out, "Operation not permitted") {
		t.Fatalf("allowed device still denied: %q", out)
	}
}

// TestLinuxDevicesGetNoRule: a node of linux.devices is made, but opening
// it is up to linux.resources.devices alone, as in runc — for the init,
// for an exec'd process, and after an update of the device rules.
func TestLinuxDevicesGetNoRule(t *testing.T) {
	skipUnlessKmsgReadable(t)
	const open = `if dd if=/dev/kmsg of=/dev/null count=0 2>/dev/null; then echo opened; else echo denied; fi`
	kmsg := func(b *bundle) *bundle {
		b.Spec.Process.Capabilities = allCaps()
		b.Spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
		b.Spec.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
		return b
	}
	e := newEnv(t)
	if out := e.mustRun(kmsg(newBundle(t, "sh", "-c", open))); out != "denied\n" {
		t.Fatalf("init opening a linux.devices node under deny-all: %q, want denied", out)
	}
	// The control: the same node, allowed by a rule, opens.
	b := kmsg(newBundle(t, "sh", "-c", open))
	major, minor := int64(1), int64(11)
	b.Spec.Linux.Resources.Devices = append(b.Spec.Linux.Resources.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "r"})
	if out := e.mustRun(b); out != "opened\n" {
		t.Fatalf("a linux.devices node allowed by linux.resources.devices: %q, want opened", out)
	}

	id := e.running(kmsg(sleeper(t)))
	if r := e.must("exec", id, "sh", "-c", open); r.stdout != "denied\n" {
		t.Fatalf("exec opening a linux.devices node under deny-all: %q, want denied", r.stdout)
	}
	if r := e.kanIn(`{"devices":[{"allow":false,"access":"rwm"}]}`, nil, "update", "-r", "-", id); r.code != 0 {
		t.Fatalf("update -r - with devices: %v", r)
	}
	if r := e.must("exec", id, "sh", "-c", open); r.stdout != "denied\n" {
		t.Fatalf("exec after an update of devices: %q, want denied", r.stdout)
	}
}
