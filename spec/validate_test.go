package spec

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		rootless bool // start from Default(true, ...) instead of Default(false, ...)
		edit     func(s *specs.Spec)
		want     string // substring of the error; "" means valid
	}{
		// ociVersion
		{name: "version 1.0.0", edit: func(s *specs.Spec) { s.Version = "1.0.0" }},
		{name: "version with suffix", edit: func(s *specs.Spec) { s.Version = "1.2.1-dev" }},
		{name: "version empty", edit: func(s *specs.Spec) { s.Version = "" }, want: "ociVersion: missing"},
		{name: "version not semver", edit: func(s *specs.Spec) { s.Version = "1.0" }, want: `ociVersion: "1.0" is not a version`},
		{name: "version major 2", edit: func(s *specs.Spec) { s.Version = "2.0.0" },
			want: `ociVersion: unsupported major version 2 in "2.0.0" (kan supports 1.x)`},
		{name: "version major 0", edit: func(s *specs.Spec) { s.Version = "0.5.0" }, want: "ociVersion: unsupported major version 0"},

		// root
		{name: "root missing", edit: func(s *specs.Spec) { s.Root = nil }, want: "root: missing"},
		{name: "root path empty", edit: func(s *specs.Spec) { s.Root.Path = "" }, want: "root.path: empty"},

		// process
		{name: "process missing", edit: func(s *specs.Spec) { s.Process = nil }, want: "process: missing"},
		{name: "args empty", edit: func(s *specs.Spec) { s.Process.Args = nil }, want: "process.args: empty"},
		{name: "args[0] empty", edit: func(s *specs.Spec) { s.Process.Args = []string{""} }, want: "process.args[0]: empty"},
		{name: "args with NUL", edit: func(s *specs.Spec) { s.Process.Args = []string{"sh", "a\x00b"} }, want: "process.args[1]:"},
		{name: "cwd relative", edit: func(s *specs.Spec) { s.Process.Cwd = "foo" }, want: `process.cwd: "foo" is not an absolute path`},
		{name: "cwd empty", edit: func(s *specs.Spec) { s.Process.Cwd = "" }, want: `process.cwd: "" is not an absolute path`},
		{name: "env without =", edit: func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO") }, want: `process.env[2]: "FOO"`},
		{name: "env with empty value", edit: func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, "FOO=") }},
		{name: "username", edit: func(s *specs.Spec) { s.Process.User.Username = "root" }, want: "process.user.username"},
		{name: "umask", edit: func(s *specs.Spec) { s.Process.User.Umask = ptr(uint32(0o22)) }},
		{name: "unknown rlimit", edit: func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_FOO"})
		}, want: `process.rlimits[1].type: unknown resource limit "RLIMIT_FOO"`},
		{name: "every Linux rlimit", edit: func(s *specs.Spec) {
			s.Process.Rlimits = nil
			for _, n := range []string{"AS", "CORE", "CPU", "DATA", "FSIZE", "LOCKS", "MEMLOCK", "MSGQUEUE",
				"NICE", "NOFILE", "NPROC", "RSS", "RTPRIO", "RTTIME", "SIGPENDING", "STACK"} {
				s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + n, Soft: 1, Hard: 2})
			}
		}},
		{name: "rlimit soft above hard", edit: func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 },
			want: "process.rlimits[0]: RLIMIT_NOFILE soft limit 2048 is above the hard limit 1024"},
		{name: "duplicate rlimit", edit: func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, s.Process.Rlimits[0])
		}, want: "process.rlimits[1].type: duplicate limit RLIMIT_NOFILE"},
		{name: "all capabilities known", edit: func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Inheritable = []string{"CAP_CHOWN", "CAP_SYS_ADMIN"}
			c.Ambient = []string{"CAP_CHECKPOINT_RESTORE", "CAP_BPF"}
		}},
		{name: "unknown capability in bounding", edit: func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_FLY")
		}, want: `process.capabilities.bounding[3]: unknown capability "CAP_FLY"`},
		{name: "unknown capability in ambient", edit: func(s *specs.Spec) {
			s.Process.Capabilities.Ambient = []string{"chown"}
		}, want: `process.capabilities.ambient[0]: unknown capability "chown"`},
		{name: "unknown capability in inheritable", edit: func(s *specs.Spec) {
			s.Process.Capabilities.Inheritable = []string{""}
		}, want: "process.capabilities.inheritable[0]"},
		{name: "unknown capability in effective", edit: func(s *specs.Spec) {
			s.Process.Capabilities.Effective = []string{"CAP_KILLS"}
		}, want: "process.capabilities.effective[0]"},
		{name: "unknown capability in permitted", edit: func(s *specs.Spec) {
			s.Process.Capabilities.Permitted = []string{"CAP_"}
		}, want: "process.capabilities.permitted[0]"},
		{name: "consoleSize with terminal", edit: func(s *specs.Spec) { s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80} }},
		{name: "consoleSize without terminal", edit: func(s *specs.Spec) {
			s.Process.Terminal = false
			s.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
		}, want: "process.consoleSize:"},
		{name: "apparmor and selinux are not checked", edit: func(s *specs.Spec) {
			s.Process.ApparmorProfile = "anything"
			s.Process.SelinuxLabel = "anything"
		}},
		{name: "ioPriority", edit: func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 4}
		}},
		{name: "ioPriority unknown class", edit: func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_NONE"}
		}, want: `process.ioPriority.class: unknown class "IOPRIO_CLASS_NONE"`},
		{name: "ioPriority out of range", edit: func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_RT, Priority: 8}
		}, want: "process.ioPriority.priority: 8"},
		{name: "scheduler", edit: func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch} }},
		{name: "scheduler unknown policy", edit: func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_FAST"} },
			want: `process.scheduler.policy: unknown policy "SCHED_FAST"`},

		// hostname, domainname
		{name: "hostname without uts namespace", edit: func(s *specs.Spec) { removeNamespace(s, specs.UTSNamespace) },
			want: "hostname: requires a uts namespace"},
		{name: "no hostname without uts namespace", edit: func(s *specs.Spec) {
			s.Hostname = ""
			removeNamespace(s, specs.UTSNamespace)
		}},
		{name: "domainname without uts namespace", edit: func(s *specs.Spec) {
			s.Hostname = ""
			s.Domainname = "example.org"
			removeNamespace(s, specs.UTSNamespace)
		}, want: "domainname: requires a uts namespace"},
		{name: "hostname without linux", edit: func(s *specs.Spec) { s.Linux = nil }, want: "hostname: requires"},

		// linux
		{name: "linux missing", edit: func(s *specs.Spec) {
			s.Hostname = ""
			s.Linux = nil
		}, want: "linux: missing"},

		// linux.namespaces
		{name: "unknown namespace", edit: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "net"})
		}, want: `linux.namespaces[6].type: unknown namespace type "net" (valid: pid, network, mount, ipc, uts, user, cgroup, time)`},
		{name: "duplicate namespace", edit: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/proc/1/ns/pid"})
		}, want: `linux.namespaces: duplicate namespace "pid"`},
		{name: "joined namespace", edit: func(s *specs.Spec) { setNamespacePath(s, specs.NetworkNamespace, "/var/run/netns/x") }},
		{name: "namespace path relative", edit: func(s *specs.Spec) { setNamespacePath(s, specs.NetworkNamespace, "netns/x") },
			want: `linux.namespaces[1].path: "netns/x" is not an absolute path`},
		{name: "time offsets", edit: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}, "boottime": {Nanosecs: 5}}
		}},
		{name: "time offsets without time namespace", edit: func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, want: "linux.timeOffsets: requires a new time namespace"},
		{name: "time offsets with joined time namespace", edit: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/1/ns/time"})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, want: "linux.timeOffsets: requires a new time namespace"},
		{name: "time offsets unknown clock", edit: func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"realtime": {Secs: 10}}
		}, want: `linux.timeOffsets: unknown clock "realtime"`},

		// linux.uidMappings, linux.gidMappings
		{name: "rootless default", rootless: true},
		{name: "mappings without user namespace", edit: func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, want: "linux.uidMappings: requires a user namespace"},
		{name: "gid mappings without user namespace", edit: func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, want: "linux.gidMappings: requires a user namespace"},
		{name: "new user namespace without mappings", rootless: true, edit: func(s *specs.Spec) {
			s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		}, want: "linux.uidMappings: a new user namespace needs uid and gid mappings"},
		{name: "new user namespace without gid mappings", rootless: true, edit: func(s *specs.Spec) { s.Linux.GIDMappings = nil },
			want: "linux.gidMappings: a new user namespace needs uid and gid mappings"},
		{name: "joined user namespace without mappings", rootless: true, edit: func(s *specs.Spec) {
			setNamespacePath(s, specs.UserNamespace, "/proc/1/ns/user")
			s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
		}},
		{name: "joined user namespace with mappings", rootless: true, edit: func(s *specs.Spec) {
			setNamespacePath(s, specs.UserNamespace, "/proc/1/ns/user")
		}, want: "linux.uidMappings: the joined user namespace /proc/1/ns/user already has its mappings"},
		{name: "mapping of size 0", rootless: true, edit: func(s *specs.Spec) { s.Linux.GIDMappings[0].Size = 0 },
			want: "linux.gidMappings[0].size: 0"},
		{name: "several mappings", rootless: true, edit: func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
		}},
		{name: "container ids overlap", rootless: true, edit: func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}, {ContainerID: 9, HostID: 100000, Size: 10}}
		}, want: "linux.uidMappings[1]: container ids 9-18 overlap those of linux.uidMappings[0] (0-9)"},
		{name: "host ids overlap", rootless: true, edit: func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}, {ContainerID: 100, HostID: 995, Size: 10}}
		}, want: "linux.gidMappings[1]: host ids 995-1004 overlap those of linux.gidMappings[0] (1000-1009)"},
		{name: "mapping past the largest id", rootless: true, edit: func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 4294967295, Size: 2}}
		}, want: "linux.uidMappings[0]: 2 ids"},

		// mounts
		{name: "mount destination empty", edit: func(s *specs.Spec) { s.Mounts[1].Destination = "" }, want: "mounts[1].destination: empty"},
		{name: "mount destination relative", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"})
		}},
		{name: "mount destination with harmless ..", edit: func(s *specs.Spec) { s.Mounts[0].Destination = "/x/../proc" }},
		{name: "mount destination escaping", edit: func(s *specs.Spec) { s.Mounts[0].Destination = "/proc/../../etc" },
			want: `mounts[0].destination: "/proc/../../etc" climbs out`},
		{name: "relative mount destination escaping", edit: func(s *specs.Spec) { s.Mounts[0].Destination = "../etc" },
			want: "mounts[0].destination:"},
		{name: "bind mount without type", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: "/srv", Options: []string{"rbind", "ro"}})
		}},
		{name: "bind mount without source", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind"})
		}, want: "mounts[7].source: a bind mount of /data needs a source"},
		{name: "bind option without source", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "none", Options: []string{"bind"}})
		}, want: "mounts[7].source:"},
		{name: "non-bind mount without type", edit: func(s *specs.Spec) { s.Mounts[0].Type = "" }, want: "mounts[0].type: empty"},
		{name: "mount options", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"rw", "rprivate", "shared", "nosymfollow", "mode=1777", "nr_inodes=1k", "huge", "uid=0"}})
		}},
		{name: "empty mount option", edit: func(s *specs.Spec) { s.Mounts[2].Options = append(s.Mounts[2].Options, "") },
			want: "mounts[2].options[6]: empty option"},
		{name: "tmpcopyup on a bind mount", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind", "tmpcopyup"}})
		}, want: `mounts[7].options: tmpcopyup works only for tmpfs, not type "bind"`},
		{name: "idmap on tmpfs", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}})
		}, want: "mounts[7]: an idmapped mount"},
		{name: "idmap without user namespace", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"rbind", "ridmap"}})
		}, want: "mounts[7].options: idmap without uidMappings"},
		{name: "idmap with only uid mappings", edit: func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"bind", "idmap"},
				UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}})
		}, want: "mounts[7]: an idmapped mount needs both"},
		{name: "idmap mappings overlap", edit: func(s *specs.Spec) {
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}, {ContainerID: 5, HostID: 2000, Size: 1}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"bind"},
				UIDMappings: m, GIDMappings: m})
		}, want: "mounts[7].uidMappings[1]: container ids 5-5 overlap"},
		{name: "idmap with own mappings", edit: func(s *specs.Spec) {
			m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: "/tmp", Options: []string{"bind", "idmap"},
				UIDMappings: m, GIDMappings: m})
		}},

		// linux.devices
		{name: "devices", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{
				{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: ptr(os.FileMode(0o666))},
				{Path: "/dev/loop0", Type: "b", Major: 7, Minor: 0, FileMode: ptr(os.FileMode(0o60660))},
				{Path: "/dev/myfifo", Type: "p"},
				{Path: "/dev/net/tun", Type: "u", Major: 10, Minor: 200},
			}
		}},
		{name: "device not under /dev", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{
				{Path: "/dev/a", Type: "p"}, {Path: "/dev/b", Type: "p"}, {Path: "/etc/x", Type: "c", Major: 1, Minor: 3},
			}
		}, want: `linux.devices[2].path: "/etc/x" is not under /dev`},
		{name: "device escaping /dev", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/../etc/x", Type: "c", Major: 1, Minor: 3}}
		}, want: `linux.devices[0].path: "/dev/../etc/x" is not under /dev`},
		{name: "device /dev itself", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev", Type: "c", Major: 1, Minor: 3}}
		}, want: "linux.devices[0].path:"},
		{name: "device path relative", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/null", Type: "c", Major: 1, Minor: 3}}
		}, want: `linux.devices[0].path: "dev/null" is not an absolute path`},
		{name: "duplicate device", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/a", Type: "p"}, {Path: "/dev/./a", Type: "p"}}
		}, want: "linux.devices[1].path:"},
		{name: "device type unknown", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "s", Major: 1, Minor: 3}}
		}, want: `linux.devices[0].type: "s" is not one of c, b, u, p`},
		{name: "device without numbers", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "b"}}
		}, want: "linux.devices[0]: /dev/x needs major and minor numbers"},
		{name: "device major out of range", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: -1, Minor: 3}}
		}, want: "linux.devices[0].major: -1"},
		{name: "device minor out of range", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 1 << 20}}
		}, want: "linux.devices[0].minor: 1048576"},
		{name: "device fileMode with other bits", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 3, FileMode: ptr(os.ModeDevice | 0o666)}}
		}, want: "linux.devices[0].fileMode:"},
		{name: "device fileMode of another type", edit: func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 3, FileMode: ptr(os.FileMode(0o60666))}}
		}, want: `linux.devices[0].fileMode: file type bits 060000 do not match type "c"`},

		// linux.maskedPaths, linux.readonlyPaths
		{name: "masked path relative", edit: func(s *specs.Spec) { s.Linux.MaskedPaths[3] = "proc/keys" },
			want: `linux.maskedPaths[3]: "proc/keys" is not an absolute path`},
		{name: "readonly path relative", edit: func(s *specs.Spec) { s.Linux.ReadonlyPaths[0] = "" },
			want: `linux.readonlyPaths[0]: "" is not an absolute path`},

		// linux.sysctl
		{name: "sysctl", edit: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "net/ipv4/conf/eth0.100/forwarding": "1"}
		}},
		{name: "sysctl of ipc and uts", edit: func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1", "fs.mqueue.queues_max": "1", "kernel.domainname": "x"}
		}},
		{name: "sysctl not namespaced", edit: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} },
			want: `linux.sysctl: "vm.swappiness" is not namespaced`},
		{name: "sysctl of the host's network namespace", edit: func(s *specs.Spec) {
			removeNamespace(s, specs.NetworkNamespace)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, want: `linux.sysctl: "net.ipv4.ip_forward" belongs to the network namespace`},
		{name: "sysctl of the host's ipc namespace", edit: func(s *specs.Spec) {
			removeNamespace(s, specs.IPCNamespace)
			s.Linux.Sysctl = map[string]string{"kernel/shmmax": "1"}
		}, want: `linux.sysctl: "kernel/shmmax" belongs to the ipc namespace`},
		{name: "sysctl empty key", edit: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"": "1"} }, want: "linux.sysctl: empty key"},
		{name: "sysctl escaping key", edit: func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"../../etc/passwd": "x"} },
			want: `linux.sysctl: key "../../etc/passwd"`},

		// linux.rootfsPropagation
		{name: "rootfs propagation", edit: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rslave" }},
		{name: "rootfs propagation unknown", edit: func(s *specs.Spec) { s.Linux.RootfsPropagation = "rshard" },
			want: `linux.rootfsPropagation: unknown propagation "rshard"`},

		// linux.cgroupsPath
		{name: "cgroups path absolute", edit: func(s *specs.Spec) { s.Linux.CgroupsPath = "/kan/abc" }},
		{name: "cgroups path relative", edit: func(s *specs.Spec) { s.Linux.CgroupsPath = "kan/abc" }},
		{name: "cgroups path with colons", edit: func(s *specs.Spec) { s.Linux.CgroupsPath = "/a:b:c" }},
		{name: "cgroups path with ..", edit: func(s *specs.Spec) { s.Linux.CgroupsPath = "/kan/../../x" },
			want: `linux.cgroupsPath: "/kan/../../x" must not contain ..`},

		// hooks
		{name: "hooks", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{
				CreateRuntime: []specs.Hook{{Path: "/usr/bin/hook", Args: []string{"hook", "x"}, Env: []string{"A=b"}, Timeout: ptr(5)}},
				Poststop:      []specs.Hook{{Path: "/bin/true"}},
			}
		}},
		{name: "hook path relative", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}, {Path: "true"}}}
		}, want: `hooks.poststart[1].path: "true" is not an absolute path`},
		{name: "hook timeout zero", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true", Timeout: ptr(0)}}}
		}, want: "hooks.createContainer[0].timeout: 0 is not a positive"},
		{name: "hook timeout negative", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true", Timeout: ptr(-1)}}}
		}, want: "hooks.prestart[0].timeout: -1"},
		{name: "hook env without =", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true", Env: []string{"A"}}}}
		}, want: `hooks.startContainer[0].env[0]: "A"`},

		// order: the first problem in field order wins
		{name: "first error wins", edit: func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "x"}}}
			s.Process.Cwd = "x"
			s.Version = "9.0.0"
		}, want: "ociVersion:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Default(tt.rootless, 1000, 1000)
			if tt.edit != nil {
				tt.edit(s)
			}
			err := Validate(s)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate error %q\ndoes not contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	if err := Validate(nil); err == nil {
		t.Error("Validate(nil): no error")
	}
	if err := Validate(&specs.Spec{}); err == nil || !strings.Contains(err.Error(), "ociVersion") {
		t.Errorf("Validate(empty spec) = %v, want an ociVersion error", err)
	}
}

// TestValidateDeterministic checks that a config with several bad map keys
// reports the same one every time, although Go randomises map order.
func TestValidateDeterministic(t *testing.T) {
	s := Default(false, 0, 0)
	s.Linux.Sysctl = map[string]string{}
	for _, k := range []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h", "vm.a", "vm.b", "vm.c"} {
		s.Linux.Sysctl[k] = "1"
	}
	first := Validate(s).Error()
	for range 20 {
		if got := Validate(s).Error(); got != first {
			t.Fatalf("Validate gave %q, then %q", first, got)
		}
	}
}

func removeNamespace(s *specs.Spec, t specs.LinuxNamespaceType) {
	var kept []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != t {
			kept = append(kept, ns)
		}
	}
	s.Linux.Namespaces = kept
}

func setNamespacePath(s *specs.Spec, t specs.LinuxNamespaceType, path string) {
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			s.Linux.Namespaces[i].Path = path
		}
	}
}

func TestParseList(t *testing.T) {
	cases := []struct {
		in   string
		want []int
		err  string
	}{
		{"0", []int{0}, ""},
		{"0-3,7,9-10", []int{0, 1, 2, 3, 7, 9, 10}, ""},
		{" 5 , 1-2 ", []int{1, 2, 5}, ""},
		{"2-4,3-6,0,4", []int{0, 2, 3, 4, 5, 6}, ""},
		{"65535", []int{65535}, ""},
		{"", nil, "empty list"},
		{"x", nil, "not a number"},
		{"-1", nil, "not a number"},
		{"3-1", nil, "not a valid range"},
		{"1-", nil, "not a valid range"},
		{"0-65536", nil, "out of range"},
	}
	for _, c := range cases {
		got, err := ParseList(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseList(%q) = %v, %v; want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	// A list that repeats the widest range names each number once: the
	// fuzzer found that the old loop appended them all (131 million ints,
	// 34 s and a gigabyte for a 16 KB list).
	got, err := ParseList(strings.Repeat("0-65535,", 2000) + "1")
	if err != nil || len(got) != 1<<16 || got[0] != 0 || got[len(got)-1] != 65535 {
		t.Fatalf("repeated ranges: %d numbers, %v", len(got), err)
	}
}

// TestVersionMajor: versionMajor accepts what the regular expression of
// MAJOR.MINOR.PATCH[-pre][+build] matches, and gives its major version.
func TestVersionMajor(t *testing.T) {
	re := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	for _, v := range []string{
		"1.0.0", "1.2.3", "01.002.3", "10.0.0", "1.0.0-rc.1", "1.0.0-rc-1+build.5", "1.0.0+b", "1.3.0-dev",
		"", "1", "1.0", "1.0.", ".0.0", "1..0", "1.0.0-", "1.0.0+", "1.0.0-+b", "1.0.0-a+", "1.0.0+a+b",
		"1.0.0 ", " 1.0.0", "1.0.0-a_b", "1.0.0+a-b.c", "v1.0.0", "1.0.0.0", "1.0.x", "١.0.0", "1.0.0-é",
	} {
		major, ok := versionMajor(v)
		m := re.FindStringSubmatch(v)
		if ok != (m != nil) || ok && major != m[1] {
			t.Errorf("versionMajor(%q) = %q, %v; the expression says %q", v, major, ok, m)
		}
	}
}
