package spec

import (
	"encoding/json"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDefaultValidates(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		s := Default(rootless, 1000, 1001)
		if err := Validate(s); err != nil {
			t.Errorf("Validate(Default(%v)): %v", rootless, err)
		}
		// What `kan spec` writes must load back unchanged.
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("config.json", data)
		if err != nil {
			t.Fatalf("Parse of marshalled Default(%v): %v", rootless, err)
		}
		if err := Validate(back); err != nil {
			t.Errorf("Validate of re-parsed Default(%v): %v", rootless, err)
		}
	}
}

func findMount(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func TestDefault(t *testing.T) {
	s := Default(false, 1000, 1001)
	if s.Version != specs.Version {
		t.Errorf("ociVersion %q, want %q", s.Version, specs.Version)
	}
	p := s.Process
	if !p.Terminal || p.User.UID != 0 || p.User.GID != 0 || !slices.Equal(p.Args, []string{"sh"}) || p.Cwd != "/" || !p.NoNewPrivileges {
		t.Errorf("process %+v", p)
	}
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	c := p.Capabilities
	if !slices.Equal(c.Bounding, caps) || !slices.Equal(c.Effective, caps) || !slices.Equal(c.Permitted, caps) ||
		c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("capabilities %+v", c)
	}
	// The sets must not share memory: editing one must leave the others.
	c.Effective[0] = "CAP_CHOWN"
	if c.Bounding[0] != "CAP_AUDIT_WRITE" || c.Permitted[0] != "CAP_AUDIT_WRITE" {
		t.Error("capability sets share their backing array")
	}
	if len(p.Rlimits) != 1 || p.Rlimits[0] != (specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}) {
		t.Errorf("rlimits %+v", p.Rlimits)
	}
	if *s.Root != (specs.Root{Path: "rootfs", Readonly: true}) || s.Hostname != "kan" {
		t.Errorf("root %+v, hostname %q", s.Root, s.Hostname)
	}
	if m := findMount(s, "/sys"); m == nil || m.Type != "sysfs" {
		t.Errorf("/sys mount %+v", m)
	}
	if m := findMount(s, "/sys/fs/cgroup"); m == nil || m.Type != "cgroup2" || m.Source != "cgroup" {
		t.Errorf("/sys/fs/cgroup mount %+v", m)
	}
	if m := findMount(s, "/dev/pts"); m == nil || !slices.Contains(m.Options, "gid=5") {
		t.Errorf("/dev/pts mount %+v", m)
	}
	if len(s.Mounts) != 7 {
		t.Errorf("%d mounts, want 7", len(s.Mounts))
	}
	if r := s.Linux.Resources; r == nil || len(r.Devices) != 1 || r.Devices[0].Allow || r.Devices[0].Access != "rwm" {
		t.Errorf("resources %+v", r)
	}
	var types []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		types = append(types, ns.Type)
	}
	want := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.MountNamespace, specs.CgroupNamespace}
	if !slices.Equal(types, want) {
		t.Errorf("namespaces %v, want %v", types, want)
	}
	if len(s.Linux.MaskedPaths) != 11 || len(s.Linux.ReadonlyPaths) != 5 {
		t.Errorf("%d masked and %d read-only paths", len(s.Linux.MaskedPaths), len(s.Linux.ReadonlyPaths))
	}
	if s.Linux.UIDMappings != nil || s.Linux.GIDMappings != nil {
		t.Error("id mappings without rootless")
	}
}

func TestDefaultRootless(t *testing.T) {
	s := Default(true, 1000, 1001)
	if !hasNewNamespace(s, specs.UserNamespace) {
		t.Error("no new user namespace")
	}
	if !hasNewNamespace(s, specs.CgroupNamespace) {
		t.Errorf("namespace %s dropped", specs.CgroupNamespace)
	}
	// runc spec --rootless leaves the container the host's network.
	if hasNewNamespace(s, specs.NetworkNamespace) {
		t.Error("network namespace kept")
	}
	if want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}; !slices.Equal(s.Linux.UIDMappings, want) {
		t.Errorf("uid mappings %+v, want %+v", s.Linux.UIDMappings, want)
	}
	if want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}; !slices.Equal(s.Linux.GIDMappings, want) {
		t.Errorf("gid mappings %+v, want %+v", s.Linux.GIDMappings, want)
	}
	if m := findMount(s, "/sys"); m == nil || m.Source != "/sys" ||
		!slices.Equal(m.Options, []string{"rbind", "nosuid", "noexec", "nodev", "ro"}) {
		t.Errorf("/sys mount %+v, want an rbind of /sys", m)
	}
	if m := findMount(s, "/dev/pts"); m == nil || slices.Contains(m.Options, "gid=5") {
		t.Errorf("/dev/pts mount %+v, want no gid=5", m)
	}
	for _, dest := range []string{"/dev/mqueue", "/sys/fs/cgroup"} {
		if findMount(s, dest) == nil {
			t.Errorf("mount %s dropped", dest)
		}
	}
	if s.Linux.Resources != nil {
		t.Errorf("resources %+v, want none", s.Linux.Resources)
	}
	// The rootless changes must not leak into a later non-rootless config.
	if m := findMount(Default(false, 0, 0), "/sys"); m.Type != "sysfs" {
		t.Error("Default(false) changed by an earlier Default(true)")
	}
}
