package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/spec"
	"golang.org/x/sys/unix"
)

// base is a config New takes, in a bundle with a rootfs directory.
func base(t *testing.T) (*specs.Spec, string) {
	t.Helper()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: []string{"sh"}, Cwd: "/", User: specs.User{UID: 1, GID: 1}},
		Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}}},
	}, bundle
}

// TestModelCarriesEveryField: every field of runtime-spec's config — the
// top level, root, process with its user and CPU affinity, and linux — is
// carried into kan's model (shown by changing it and comparing the
// models), refused by New (shown by the error), or listed as another
// platform's. A field added to runtime-spec fails here until it is sorted
// into one of the three.
func TestModelCarriesEveryField(t *testing.T) {
	oom, umask, errno := 3, uint32(0o22), uint(1)
	type mutation = func(*specs.Spec)
	carried := map[string]mutation{
		"Spec.Process":     func(s *specs.Spec) { s.Process.Args = []string{"other"} },
		"Spec.Root":        func(s *specs.Spec) { s.Root.Readonly = true },
		"Spec.Hostname":    func(s *specs.Spec) { s.Hostname = "h" },
		"Spec.Domainname":  func(s *specs.Spec) { s.Domainname = "d" },
		"Spec.Mounts":      func(s *specs.Spec) { s.Mounts = []specs.Mount{{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"}} },
		"Spec.Hooks":       func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}} },
		"Spec.Annotations": func(s *specs.Spec) { s.Annotations = map[string]string{"a": "b"} },
		"Spec.Linux":       func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/proc/kcore"} },

		"Root.Path": func(s *specs.Spec) {
			os.Mkdir(filepath.Join(filepath.Dir(s.Root.Path), "other"), 0o755)
			s.Root.Path = "other"
		},
		"Root.Readonly": func(s *specs.Spec) { s.Root.Readonly = true },

		"Process.Terminal":    func(s *specs.Spec) { s.Process.Terminal = true },
		"Process.ConsoleSize": func(s *specs.Spec) { s.Process.Terminal, s.Process.ConsoleSize = true, &specs.Box{Height: 3, Width: 4} },
		"Process.User":        func(s *specs.Spec) { s.Process.User.UID = 5 },
		"Process.Args":        func(s *specs.Spec) { s.Process.Args = []string{"other"} },
		"Process.Env":         func(s *specs.Spec) { s.Process.Env = []string{"A=1"} },
		"Process.Cwd":         func(s *specs.Spec) { s.Process.Cwd = "/tmp" },
		"Process.Capabilities": func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}
		},
		"Process.Rlimits": func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 1, Hard: 1}}
		},
		"Process.NoNewPrivileges": func(s *specs.Spec) { s.Process.NoNewPrivileges = true },
		"Process.OOMScoreAdj":     func(s *specs.Spec) { s.Process.OOMScoreAdj = &oom },
		"Process.Scheduler":       func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch} },
		"Process.IOPriority": func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
		},
		"Process.ExecCPUAffinity": func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "0"} },

		"User.UID":            func(s *specs.Spec) { s.Process.User.UID = 6 },
		"User.GID":            func(s *specs.Spec) { s.Process.User.GID = 6 },
		"User.Umask":          func(s *specs.Spec) { s.Process.User.Umask = &umask },
		"User.AdditionalGids": func(s *specs.Spec) { s.Process.User.AdditionalGids = []uint32{7} },

		"CPUAffinity.Initial": func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0"} },
		"CPUAffinity.Final":   func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "0"} },

		"Linux.UIDMappings": func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		},
		"Linux.GIDMappings": func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{HostID: 2000, Size: 1}}
		},
		"Linux.Sysctl": func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"} },
		"Linux.Resources": func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(5))}}
		},
		"Linux.CgroupsPath": func(s *specs.Spec) { s.Linux.CgroupsPath = "/x" },
		"Linux.Namespaces": func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		},
		"Linux.Devices": func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "c", Major: 1, Minor: 3}}
		},
		"Linux.NetDevices": func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"dummy0": {}}
		},
		"Linux.Seccomp": func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"reboot"}, Action: specs.ActErrno, ErrnoRet: &errno}}}
		},
		"Linux.RootfsPropagation": func(s *specs.Spec) { s.Linux.RootfsPropagation = "slave" },
		"Linux.MaskedPaths":       func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/proc/kcore"} },
		"Linux.ReadonlyPaths":     func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/proc/sys"} },
		"Linux.MemoryPolicy": func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolLocal}
		},
		"Linux.Personality": func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
		},
		"Linux.TimeOffsets": func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		},
	}
	refused := map[string]mutation{
		// Refused on a host without SELinux, which is every host kan's
		// tests run on; with SELinux, carried (lsm.Check).
		"Linux.MountLabel":     func(s *specs.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" },
		"Process.SelinuxLabel": func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" },
		"Linux.IntelRdt":       func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"} },
		"User.Username":        func(s *specs.Spec) { s.Process.User.Username = "root" },
	}
	// Fields of other platforms, ignored as runc ignores them (the spec
	// marks process.commandLine Windows only).
	otherPlatform := []string{"Spec.Solaris", "Spec.Windows", "Spec.VM", "Spec.ZOS", "Spec.FreeBSD", "Process.CommandLine"}
	// Checked (its major version), and kept only in the state's record
	// of the config.
	recordOnly := map[string]mutation{"Spec.Version": func(s *specs.Spec) { s.Version = "1.0.0" }}
	// Carried where the host has AppArmor, refused where not.
	hostDependent := map[string]mutation{
		"Process.ApparmorProfile": func(s *specs.Spec) { s.Process.ApparmorProfile = "unconfined" },
	}

	model := func(mutate mutation) (*Container, error) {
		s, bundle := base(t)
		s.Root.Path = filepath.Join(bundle, s.Root.Path)
		if mutate != nil {
			mutate(s)
		}
		if !filepath.IsAbs(s.Root.Path) {
			s.Root.Path = filepath.Join(bundle, s.Root.Path)
		}
		// Through the bytes, as create reads a config: what spec.Decode
		// keeps as JSON must reach the model too.
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		f, err := spec.Decode("config.json", data)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(f, bundle)
		if c != nil {
			c.Bundle, c.Rootfs = "", filepath.Base(c.Rootfs) // the temporary directories differ
		}
		return c, err
	}
	want, err := model(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Record holds the config as given: every change changes it. The
	// model proper must change without it.
	same := func(a, b *Container) bool {
		a2, b2 := *a, *b
		a2.Record, b2.Record = Record{}, Record{}
		a2.Seccomp, b2.Seccomp = nil, nil
		if (a.Seccomp == nil) != (b.Seccomp == nil) {
			return false
		}
		return reflect.DeepEqual(&a2, &b2)
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(specs.Spec{}), reflect.TypeOf(specs.Root{}), reflect.TypeOf(specs.Process{}),
		reflect.TypeOf(specs.User{}), reflect.TypeOf(specs.CPUAffinity{}), reflect.TypeOf(specs.Linux{})} {
		for i := 0; i < typ.NumField(); i++ {
			name := typ.Name() + "." + typ.Field(i).Name
			if mutate, ok := carried[name]; ok {
				got, err := model(mutate)
				if err != nil {
					t.Errorf("%s: carried, but New refuses it: %v", name, err)
				} else if same(got, want) {
					t.Errorf("%s: changing it does not change the model", name)
				}
				continue
			}
			if mutate, ok := refused[name]; ok {
				if _, err := model(mutate); err == nil {
					t.Errorf("%s: listed as refused, but New takes it", name)
				}
				continue
			}
			if mutate, ok := recordOnly[name]; ok {
				got, err := model(mutate)
				if err != nil {
					t.Errorf("%s: New refuses it: %v", name, err)
					continue
				}
				a, _ := json.Marshal(got.Record.Config)
				b, _ := json.Marshal(want.Record.Config)
				if string(a) == string(b) {
					t.Errorf("%s: changing it does not change the record", name)
				}
				continue
			}
			if mutate, ok := hostDependent[name]; ok {
				if got, err := model(mutate); err == nil && same(got, want) {
					t.Errorf("%s: taken, but changing it does not change the model", name)
				}
				continue
			}
			found := false
			for _, o := range otherPlatform {
				found = found || o == name
			}
			if !found {
				t.Errorf("%s: neither carried into the model, refused, nor another platform's", name)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestNewErrors: what New refuses, named by field.
func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*specs.Spec, string)
		want   string
	}{
		{"invalid config", func(s *specs.Spec, _ string) { s.Process.Cwd = "relative" }, `config.json: process.cwd: "relative" is not an absolute path`},
		{"no mount namespace", func(s *specs.Spec, _ string) { s.Linux.Namespaces = nil }, "linux.namespaces: kan needs a mount namespace"},
		{"root.path missing", func(s *specs.Spec, _ string) { s.Root.Path = "nope" }, "root.path"},
		{"root.path a file", func(s *specs.Spec, b string) { os.WriteFile(filepath.Join(b, "f"), nil, 0o644); s.Root.Path = "f" }, "not a directory"},
		{"root.path the host's root", func(s *specs.Spec, _ string) { s.Root.Path = "/" }, "is the host's root directory"},
		{"bad scheduler", func(s *specs.Spec, _ string) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_BOGUS"} }, "process.scheduler.policy"},
		{"bad capability", func(s *specs.Spec, _ string) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_BOGUS"}}
		}, "CAP_BOGUS"},
		{"bad affinity", func(s *specs.Spec, _ string) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "x"} }, "process.execCPUAffinity.initial"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, bundle := base(t)
			c.mutate(s, bundle)
			if _, err := New(&spec.Config{Spec: s}, bundle); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want an error with %q", err, c.want)
			}
		})
	}
}

// TestNewProcess: exec's process is checked by the same rules as a
// config's, and gets the container's personality and memory policy.
func TestNewProcess(t *testing.T) {
	p := &specs.Process{Args: []string{"sh"}, Cwd: "/", Rlimits: []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 20}, {Type: "RLIMIT_CORE", Soft: 1, Hard: 2}}}
	m, err := NewProcess(p, &specs.Linux{Personality: &specs.LinuxPersonality{Domain: specs.PerLinux32}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Rlimits) != 2 || m.Rlimits[0].Resource != unix.RLIMIT_NOFILE || m.Rlimits[0].Hard != 20 || m.Rlimits[1].Resource != unix.RLIMIT_CORE {
		t.Errorf("rlimits: %+v", m.Rlimits)
	}
	if m.Personality == nil {
		t.Error("the container's personality is lost")
	}
	// An exec'd process may carry a console size without a terminal, as
	// engines send it; create refuses it in a config.
	q := *p
	q.ConsoleSize = &specs.Box{Height: 1, Width: 1}
	if _, err := NewProcess(&q, nil); err != nil {
		t.Errorf("consoleSize without a terminal: %v", err)
	}
	for _, c := range []struct {
		mutate func(*specs.Process)
		want   string
	}{
		{func(p *specs.Process) { p.Args = nil }, "process.args: empty"},
		{func(p *specs.Process) { p.Cwd = "x" }, "process.cwd"},
		{func(p *specs.Process) { p.Env = []string{"NOEQUALS"} }, "process.env[0]"},
		{func(p *specs.Process) { p.User.UID = 1 << 31 }, "process.user.uid"},
		{func(p *specs.Process) { p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS"}) }, "RLIMIT_BOGUS"},
		{func(p *specs.Process) { p.Rlimits = append(p.Rlimits, p.Rlimits[0]) }, "duplicate limit RLIMIT_NOFILE"},
	} {
		q := *p
		c.mutate(&q)
		if _, err := NewProcess(&q, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewProcess: %v, want an error with %q", err, c.want)
		}
	}
}

// TestRecord: the config a state keeps from the bytes read decodes to the
// same config, resources, hooks and seccomp as encoding the decoded config
// would give.
func TestRecord(t *testing.T) {
	limit := int64(1 << 20)
	for _, c := range []struct {
		name string
		raw  string
	}{
		{"resources", `{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"},"linux":{"resources":{"memory":{"limit":1048576}}}}`},
		{"no resources", `{"ociVersion":"1.2.0","linux":{"namespaces":[{"type":"mount"}]}}`},
		{"null resources", `{"linux":{"resources":null}}`},
		{"linux twice, resources in the first", `{"linux":{"resources":{"memory":{"limit":1048576}}},"linux":{"sysctl":{"a.b":"1"}}}`},
		{"hooks and seccomp", `{"hooks":{"poststop":[{"path":"/bin/true","args":["true","x"]}]},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s specs.Spec
			if err := json.Unmarshal([]byte(c.raw), &s); err != nil {
				t.Fatal(err)
			}
			if s.Linux == nil {
				s.Linux = &specs.Linux{}
			}
			f, err := spec.Decode("config.json", []byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			if f.Spec.Linux == nil {
				f.Spec.Linux = &specs.Linux{}
			}
			var fromRaw, encoded, listen Container
			if err := fromRaw.record(f); err != nil {
				t.Fatal(err)
			}
			if err := encoded.record(&spec.Config{Spec: &s}); err != nil {
				t.Fatal(err)
			}
			// As create with socket activation: decoded, the bytes dropped.
			f.Raw = nil
			if err := listen.record(f); err != nil {
				t.Fatal(err)
			}
			l, _ := listen.Record.Config.Get()
			e, _ := encoded.Record.Config.Get()
			if !reflect.DeepEqual(l, e) {
				t.Errorf("config decoded, then saved without its bytes %+v, want %+v", l, e)
			}
			a, _ := fromRaw.Record.Config.Get()
			b, _ := encoded.Record.Config.Get()
			if !reflect.DeepEqual(a.Linux.Resources, b.Linux.Resources) || !reflect.DeepEqual(a.Process, b.Process) {
				t.Errorf("config from the bytes read %+v, encoded %+v", a, b)
			}
			ha, _ := fromRaw.Record.Hooks.Get()
			hb, _ := encoded.Record.Hooks.Get()
			if !reflect.DeepEqual(ha, hb) || !reflect.DeepEqual(ha, s.Hooks) {
				t.Errorf("hooks from the bytes read %+v, encoded %+v, want %+v", ha, hb, s.Hooks)
			}
			if (fromRaw.Seccomp != nil) != (s.Linux.Seccomp != nil) || (encoded.Seccomp != nil) != (s.Linux.Seccomp != nil) {
				t.Errorf("seccomp: from the bytes read %v, encoded %v", fromRaw.Seccomp, encoded.Seccomp)
			} else if s.Linux.Seccomp != nil {
				sa, errA := fromRaw.Seccomp.Profile()
				sb, errB := encoded.Seccomp.Profile()
				if errA != nil || errB != nil || !reflect.DeepEqual(sa, sb) {
					t.Errorf("seccomp from the bytes read %+v (%v), encoded %+v (%v)", sa, errA, sb, errB)
				}
			}
			ra, _ := fromRaw.Record.Resources.Get()
			rb, _ := encoded.Record.Resources.Get()
			if !reflect.DeepEqual(ra, rb) {
				t.Errorf("resources from the bytes read %+v, encoded %+v", ra, rb)
			}
			if s.Linux.Resources != nil && (ra == nil || *ra.Memory.Limit != limit) {
				t.Errorf("resources lost: %+v", ra)
			}
		})
	}
}
