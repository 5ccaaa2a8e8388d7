package spec

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Default returns the config `kan spec` writes: the same shape as the one
// `runc spec` writes, so bundles move between the two runtimes unchanged.
//
// With rootless set it is meant for an unprivileged user: a new user
// namespace maps root in the container to uid and gid on the host, and what
// such a user may not do (mount sysfs, set device cgroup rules, give
// /dev/pts a group it is not in) is left out.
//
// Every call returns a new config that shares no memory with another, so a
// caller may change it freely.
func Default(rootless bool, uid, gid uint32) *specs.Spec {
	// A few harmless capabilities so that a shell works; a fresh slice per
	// set, so that changing one set does not change another.
	caps := func() []string { return []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"} }
	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: true,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps(),
				Effective: caps(),
				Permitted: caps(),
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "kan",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
				Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
				Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs",
				Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup",
				Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			// Deny access to every device unless a rule allows it.
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
				{Type: specs.CgroupNamespace},
			},
			// Files in /proc and /sys that reveal or change the host.
			MaskedPaths: []string{
				"/proc/acpi",
				"/proc/asound",
				"/proc/kcore",
				"/proc/keys",
				"/proc/latency_stats",
				"/proc/timer_list",
				"/proc/timer_stats",
				"/proc/sched_debug",
				"/sys/firmware",
				"/proc/scsi",
				"/sys/devices/virtual/powercap",
			},
			ReadonlyPaths: []string{
				"/proc/bus",
				"/proc/fs",
				"/proc/irq",
				"/proc/sys",
				"/proc/sysrq-trigger",
			},
		},
	}
	if rootless {
		makeRootless(s, uid, gid)
	}
	return s
}

// makeRootless turns the default config into one an unprivileged user can
// run: exactly what runc spec --rootless changes (runc's ToRootless), so
// that the two runtimes' rootless bundles stay interchangeable.
func makeRootless(s *specs.Spec, uid, gid uint32) {
	// The host's network: a network namespace of its own would leave the
	// container without any, as an unprivileged user cannot give it an
	// interface.
	var nss []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace && ns.Type != specs.UserNamespace {
			nss = append(nss, ns)
		}
	}
	s.Linux.Namespaces = append(nss, specs.LinuxNamespace{Type: specs.UserNamespace})
	// An unprivileged user may map only its own ids (more go through
	// newuidmap and the user's /etc/subuid ranges, added by hand).
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}
	for i, m := range s.Mounts {
		if m.Destination == "/sys" {
			// A fresh sysfs needs privilege over the network namespace,
			// which a rootless container lacks as it shares the host's
			// network; a read-only bind of /sys works either way.
			s.Mounts[i] = specs.Mount{
				Destination: "/sys",
				Type:        "none",
				Source:      "/sys",
				Options:     []string{"rbind", "nosuid", "noexec", "nodev", "ro"},
			}
			continue
		}
		// Ids other than the user's own are not mapped: devpts would
		// refuse gid=5 (tty), for one.
		var opts []string
		for _, o := range m.Options {
			if !strings.HasPrefix(o, "uid=") && !strings.HasPrefix(o, "gid=") {
				opts = append(opts, o)
			}
		}
		s.Mounts[i].Options = opts
	}
	// Without privilege on the host's cgroups the device rules could not
	// be applied.
	s.Linux.Resources = nil
}
