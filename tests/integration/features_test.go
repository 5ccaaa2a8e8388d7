package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// TestFeaturesClaimsHold runs `kan features` and exercises every claim it
// makes: each listed mount option, namespace, hook, capability and memory
// policy works in a container that starts, idmap and netDevices work, and
// what it says is disabled is refused.
func TestFeaturesClaimsHold(t *testing.T) {
	e := newEnv(t)
	var f features.Features
	r := e.must("features")
	if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
		t.Fatalf("features output: %v\n%s", err, r.stdout)
	}
	if f.Linux == nil {
		t.Fatal("features: no linux section")
	}
	t.Run("ociVersion", func(t *testing.T) {
		e := &env{t: t, root: e.root}
		for _, v := range []string{f.OCIVersionMin, f.OCIVersionMax} {
			b := newBundle(t, "true")
			b.Spec.Version = v
			e.mustRun(b)
		}
	})
	t.Run("mountOptions", func(t *testing.T) { featureMountOptions(t, e, f.MountOptions) })
	t.Run("namespaces", func(t *testing.T) {
		e := &env{t: t, root: e.root}
		b := newBundle(t, "sh", "-c", nsScript)
		b.Spec.Linux.Namespaces = nil
		for _, ns := range f.Linux.Namespaces {
			b.Spec.Linux.Namespaces = append(b.Spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(ns)})
			if ns == string(specs.UserNamespace) {
				b.Spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				b.Spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			}
		}
		got := parseNS(e.mustRun(b))
		for _, ns := range f.Linux.Namespaces {
			proc := map[string]string{"network": "net", "mount": "mnt"}[ns]
			if proc == "" {
				proc = ns
			}
			if got[proc] == "" || got[proc] == hostNS(t, os.Getpid(), proc) {
				t.Errorf("namespace %s claimed but not new in the container: %q", ns, got[proc])
			}
		}
	})
	t.Run("hooks", func(t *testing.T) {
		e := &env{t: t, root: e.root}
		logDir := t.TempDir()
		os.Chmod(logDir, 0o777)
		log := filepath.Join(logDir, "log")
		b := newBundle(t, "true")
		b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"bind"}})
		b.Spec.Hooks = &specs.Hooks{}
		for _, h := range f.Hooks {
			switch h {
			case "prestart":
				b.Spec.Hooks.Prestart = []specs.Hook{hook(h, log)}
			case "createRuntime":
				b.Spec.Hooks.CreateRuntime = []specs.Hook{hook(h, log)}
			case "createContainer":
				b.Spec.Hooks.CreateContainer = []specs.Hook{hook(h, log)}
			case "startContainer":
				b.Spec.Hooks.StartContainer = []specs.Hook{hook(h, "/hooklog/log")}
			case "poststart":
				b.Spec.Hooks.Poststart = []specs.Hook{hook(h, log)}
			case "poststop":
				b.Spec.Hooks.Poststop = []specs.Hook{hook(h, log)}
			default:
				t.Errorf("unknown hook type %q claimed", h)
			}
		}
		e.mustRun(b)
		data, _ := os.ReadFile(log)
		for _, h := range f.Hooks {
			if !strings.Contains(string(data), h+" ") {
				t.Errorf("hook %s claimed but did not run: %q", h, data)
			}
		}
	})
	t.Run("capabilities", func(t *testing.T) {
		e := &env{t: t, root: e.root}
		number := map[string]uint{}
		for _, c := range capability.ListKnown() {
			number["CAP_"+strings.ToUpper(c.String())] = uint(c)
		}
		// No runtime can give what it does not have: capabilities not
		// in the bounding set kan runs with (this host's test runner may
		// lack some) are left out, and logged.
		own := ownBoundingSet(t)
		var mask uint64
		var caps []string
		for _, c := range f.Linux.Capabilities {
			n, ok := number[c]
			if !ok {
				t.Fatalf("capability %s claimed, unknown to the capability library", c)
			}
			if own&(1<<n) == 0 {
				t.Logf("%s claimed, but not in the bounding set kan runs with here: not tried", c)
				continue
			}
			mask |= 1 << n
			caps = append(caps, c)
		}
		b := newBundle(t, "grep", "-E", "^Cap(Bnd|Eff|Prm)", "/proc/self/status")
		b.Spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		out := e.mustRun(b)
		for _, set := range []string{"CapBnd", "CapEff", "CapPrm"} {
			if want := fmt.Sprintf("%s:\t%016x", set, mask); !strings.Contains(out, want) {
				t.Errorf("every claimed capability: want %s, got\n%s", want, out)
			}
		}
	})
	t.Run("memoryPolicy", func(t *testing.T) {
		e := &env{t: t, root: e.root}
		mp := f.Linux.MemoryPolicy
		if mp == nil {
			t.Skip("no memory policy claimed")
		}
		node := memNode(t)
		if node == "" {
			t.Skip("no NUMA node with memory that this process may use")
		}
		policyBundle := func(mode string, flags ...string) *bundle {
			b := newBundle(t, "cat", "/proc/self/numa_maps")
			p := &specs.LinuxMemoryPolicy{Mode: specs.MemoryPolicyModeType(mode), Nodes: node}
			if mode == string(specs.MpolDefault) || mode == string(specs.MpolLocal) {
				p.Nodes = ""
			}
			for _, fl := range flags {
				p.Flags = append(p.Flags, specs.MemoryPolicyFlagType(fl))
			}
			b.Spec.Linux.MemoryPolicy = p
			return b
		}
		try := func(mode string, flags ...string) {
			t.Helper()
			if r := e.run(policyBundle(mode, flags...)); r.code != 0 {
				t.Errorf("memory policy %s %v claimed but refused: %v", mode, flags, r)
			}
		}
		for _, m := range mp.Modes {
			try(m)
		}
		// A mode of the spec that this kernel lacks (MPOL_WEIGHTED_INTERLEAVE
		// before Linux 6.9) is not claimed, and is refused.
		for _, m := range []specs.MemoryPolicyModeType{specs.MpolDefault, specs.MpolBind, specs.MpolInterleave,
			specs.MpolWeightedInterleave, specs.MpolPreferred, specs.MpolPreferredMany, specs.MpolLocal} {
			if !slices.Contains(mp.Modes, string(m)) {
				id := newID(t)
				e.fails("linux.memoryPolicy", "create", "--bundle", policyBundle(string(m)).write(t), id)
				e.assertGone(id)
			}
		}
		// MPOL_F_NUMA_BALANCING goes with MPOL_BIND; static and relative
		// nodes exclude each other, so each flag is tried on its own.
		for _, fl := range mp.Flags {
			try(string(specs.MpolBind), fl)
		}
	})
	t.Run("idmap", func(t *testing.T) {
		if ext := f.Linux.MountExtensions; ext == nil || ext.IDMap == nil || ext.IDMap.Enabled == nil || !*ext.IDMap.Enabled {
			t.Skip("idmap not claimed")
		}
		featureIDMap(t, e)
	})
	t.Run("netDevices", func(t *testing.T) {
		e := &env{t: t, root: e.root}
		if nd := f.Linux.NetDevices; nd == nil || nd.Enabled == nil || !*nd.Enabled {
			t.Skip("netDevices not claimed")
		}
		dev := veth(t, 30)
		b := newBundle(t, "ip", "-o", "addr", "show", "eth9")
		b.Spec.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "eth9"}}
		if out := e.mustRun(b); !strings.Contains(out, "10.231.30.1/24") {
			t.Errorf("netDevices claimed, but the moved interface lacks its address: %q", out)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		e := &env{t: t, root: e.root}
		l := f.Linux
		refused := func(enabled *bool, field string, edit func(*specs.Spec)) {
			t.Helper()
			if enabled != nil && *enabled {
				return
			}
			b := newBundle(t, "true")
			edit(b.Spec)
			id := newID(t)
			e.fails(field, "create", "--bundle", b.write(t), id)
			e.assertGone(id)
		}
		if l.Seccomp != nil {
			refused(l.Seccomp.Enabled, "linux.seccomp", func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow} })
		}
		if l.Apparmor != nil && l.Apparmor.Enabled != nil && *l.Apparmor.Enabled != hostAppArmor() {
			t.Errorf("apparmor enabled claimed %v, the host runs AppArmor: %v", *l.Apparmor.Enabled, hostAppArmor())
		}
		if l.Selinux != nil && l.Selinux.Enabled != nil && *l.Selinux.Enabled != hostSELinux() {
			t.Errorf("selinux enabled claimed %v, the host runs SELinux: %v", *l.Selinux.Enabled, hostSELinux())
		}
		if l.Apparmor != nil {
			refused(l.Apparmor.Enabled, "process.apparmorProfile", func(s *specs.Spec) { s.Process.ApparmorProfile = "unconfined" })
		}
		if l.Selinux != nil {
			refused(l.Selinux.Enabled, "process.selinuxLabel", func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" })
			refused(l.Selinux.Enabled, "linux.mountLabel", func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" })
		}
		if l.IntelRdt != nil {
			refused(l.IntelRdt.Enabled, "linux.intelRdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "kan"} })
		}
		if cg := l.Cgroup; cg != nil {
			if cg.Systemd != nil && !*cg.Systemd {
				e.fails("systemd", "--systemd-cgroup", "create", "--bundle", newBundle(t, "true").write(t), newID(t))
			}
			// Where kan claims rdma, a limit is taken to the controller:
			// applied on a device the host has, refused by the kernel
			// (ENODEV), naming the field, on one it lacks.
			dev := rdmaDevice()
			limit := uint32(10)
			rdma := func(s *specs.Spec) {
				s.Linux.Resources.Rdma = map[string]specs.LinuxRdma{dev: {HcaHandles: &limit}}
			}
			if cg.Rdma != nil && *cg.Rdma {
				b := newBundle(t, "true")
				rdma(b.Spec)
				if _, err := os.Stat(filepath.Join("/sys/class/infiniband", dev)); err == nil {
					if r := e.run(b); r.code != 0 {
						t.Errorf("cgroup rdma claimed, but an rdma limit on %s is refused: %v", dev, r)
					}
				} else {
					id := newID(t)
					e.fails(`linux.resources.rdma[\"`+dev+`\"]`, "create", "--bundle", b.write(t), id)
					e.assertGone(id)
				}
			} else {
				refused(cg.Rdma, "linux.resources.rdma", rdma)
			}
		}
	})
}

// rdmaDevice is an RDMA device of this host, or mlx5_0 where it has none.
func rdmaDevice() string {
	if entries, _ := os.ReadDir("/sys/class/infiniband"); len(entries) > 0 {
		return entries[0].Name()
	}
	return "mlx5_0"
}

func ownBoundingSet(t *testing.T) uint64 {
	t.Helper()
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
			mask, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return mask
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return 0
}

// featureMountOptions mounts, in one container, a mount per option (with
// the option it undoes before it, for the clearing ones) and checks the
// effect in mountinfo where there is one to see.
func featureMountOptions(t *testing.T, parent *env, opts []string) {
	e := &env{t: t, root: parent.root}
	hostDir := t.TempDir()
	// What a clearing option undoes.
	undoes := map[string]string{
		"rw": "ro", "suid": "nosuid", "dev": "nodev", "exec": "noexec", "atime": "noatime", "diratime": "nodiratime",
		"symfollow": "nosymfollow", "async": "sync", "nolazytime": "lazytime", "norelatime": "relatime",
		"nostrictatime": "strictatime", "nomand": "mand", "noiversion": "iversion", "loud": "silent",
		"rrw": "rro", "rsuid": "rnosuid", "rdev": "rnodev", "rexec": "rnoexec", "rdiratime": "rnodiratime",
		"rsymfollow": "rnosymfollow", "ratime": "rnoatime", "rnorelatime": "rnoatime",
	}
	// What mountinfo shows for an option: a per-mount option, a
	// superblock option ("super:"), a propagation tag ("tag:"), or "!x"
	// for an option that must be absent.
	shows := map[string][]string{
		"ro": {"ro"}, "rw": {"rw"}, "nosuid": {"nosuid"}, "suid": {"!nosuid"}, "nodev": {"nodev"}, "dev": {"!nodev"},
		"noexec": {"noexec"}, "exec": {"!noexec"}, "noatime": {"noatime"}, "atime": {"!noatime"}, "relatime": {"relatime"},
		"strictatime": {"!relatime", "!noatime"}, "nodiratime": {"nodiratime"}, "diratime": {"!nodiratime"},
		"nosymfollow": {"nosymfollow"}, "symfollow": {"!nosymfollow"}, "sync": {"super:sync"}, "async": {"!super:sync"},
		"dirsync": {"super:dirsync"}, "lazytime": {"super:lazytime"}, "nolazytime": {"!super:lazytime"},
		"rro": {"ro"}, "rrw": {"rw"}, "rnosuid": {"nosuid"}, "rsuid": {"!nosuid"}, "rnodev": {"nodev"}, "rdev": {"!nodev"},
		"rnoexec": {"noexec"}, "rexec": {"!noexec"}, "rnodiratime": {"nodiratime"}, "rdiratime": {"!nodiratime"},
		"rnosymfollow": {"nosymfollow"}, "rsymfollow": {"!nosymfollow"}, "rnoatime": {"noatime"}, "ratime": {"relatime", "!noatime"},
		"rnorelatime": {"relatime", "!noatime"}, "rrelatime": {"relatime"}, "rstrictatime": {"!relatime", "!noatime"},
		"shared": {"tag:shared"}, "rshared": {"tag:shared"}, "unbindable": {"tag:unbindable"}, "runbindable": {"tag:unbindable"},
		"private": {"!tag:shared", "!tag:master"}, "rprivate": {"!tag:shared", "!tag:master"},
	}
	b := newBundle(t, withMountinfo("ls /etc/passwd")...)
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	dest := map[string]string{}
	for i, o := range opts {
		d := fmt.Sprintf("/tmp/%d", i)
		list := []string{o}
		if u := undoes[o]; u != "" {
			list = []string{u, o}
		}
		var m specs.Mount
		switch {
		case o == "idmap" || o == "ridmap":
			continue // needs a user namespace: featureIDMap
		case o == "bind" || o == "rbind":
			m = specs.Mount{Destination: d, Source: hostDir, Options: list} // no type: the option makes it a bind
		case o == "tmpcopyup":
			m = specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: list}
			d = "/etc"
		case o == "remount" || strings.HasPrefix(o, "r") && o != "relatime" && o != "ro" && o != "rw" ||
			slices.Contains([]string{"shared", "slave", "private", "unbindable"}, o):
			m = specs.Mount{Destination: d, Type: "bind", Source: hostDir, Options: append([]string{"rbind"}, list...)}
		default:
			m = specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs", Options: list}
		}
		dest[o] = d
		b.Spec.Mounts = append(b.Spec.Mounts, m)
	}
	out, mi := e.containerMounts(b)
	if out != "/etc/passwd\n" {
		t.Errorf("tmpcopyup on /etc: /etc/passwd missing: %q", out)
	}
	for o, d := range dest {
		got, ok := mi[d]
		if !ok {
			t.Errorf("option %s: nothing mounted at %s", o, d)
			continue
		}
		for _, w := range shows[o] {
			absent := strings.HasPrefix(w, "!")
			w = strings.TrimPrefix(w, "!")
			var has bool
			switch {
			case strings.HasPrefix(w, "super:"):
				has = slices.Contains(got.super, strings.TrimPrefix(w, "super:"))
			case strings.HasPrefix(w, "tag:"):
				has = got.tag(strings.TrimPrefix(w, "tag:")) != ""
			default:
				has = got.has(w)
			}
			if has == absent {
				t.Errorf("option %s at %s: mountinfo %v %v super %v: want %s%s", o, d, got.opts, got.optional, got.super,
					map[bool]string{true: "no ", false: ""}[absent], w)
			}
		}
	}
}

// featureIDMap: idmap and ridmap mounts work in a user namespace.
func featureIDMap(t *testing.T, parent *env) {
	e := &env{t: t, root: parent.root}
	src := t.TempDir()
	skipUnlessIdmappable(t, src)
	os.Chmod(src, 0o755)
	os.Chmod(filepath.Dir(src), 0o755)
	os.WriteFile(src+"/f", nil, 0o644)
	os.Chown(src+"/f", 1000, 1000)
	b := newBundle(t, "stat", "-c", "%u", "/tmp/a/f", "/tmp/b/f")
	withUserNS(b.Spec)
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/tmp/a", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
		specs.Mount{Destination: "/tmp/b", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"}},
	)
	if out := e.mustRun(b); out != "1000\n1000\n" {
		t.Errorf("idmap claimed: owners through idmap and ridmap %q, want 1000 twice", out)
	}
}
