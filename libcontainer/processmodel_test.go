package libcontainer

import (
	"bytes"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/capabilities"
)

// TestPlanCarriesEveryProcessField: the plan is kan's description of a
// container's process, what the applier applies for both inits and exec.
// Every field of runtime-spec's process (and of its user, and the linux
// fields that shape the process) either changes the plan — shown here by
// changing it and comparing the plans — or is listed with what takes care
// of it instead. A field added to runtime-spec fails here until it is
// sorted into one or the other.
func TestPlanCarriesEveryProcessField(t *testing.T) {
	oom, umask, errno := 3, uint32(0o22), uint(1)
	carried := map[string]func(*specs.Process, *specs.Linux){
		"Process.ConsoleSize":  func(p *specs.Process, _ *specs.Linux) { p.ConsoleSize = &specs.Box{Height: 3, Width: 4} },
		"Process.User":         func(p *specs.Process, _ *specs.Linux) { p.User.UID = 5 },
		"Process.Args":         func(p *specs.Process, _ *specs.Linux) { p.Args = []string{"other"} },
		"Process.Env":          func(p *specs.Process, _ *specs.Linux) { p.Env = []string{"A=1"} },
		"Process.Cwd":          func(p *specs.Process, _ *specs.Linux) { p.Cwd = "/tmp" },
		"Process.Capabilities": func(p *specs.Process, _ *specs.Linux) {}, // through the parsed set: see caps below
		"Process.Rlimits": func(p *specs.Process, _ *specs.Linux) {
			p.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 1, Hard: 1}}
		},
		"Process.NoNewPrivileges": func(p *specs.Process, _ *specs.Linux) { p.NoNewPrivileges = true },
		"Process.ApparmorProfile": func(p *specs.Process, _ *specs.Linux) { p.ApparmorProfile = "x" },
		"Process.OOMScoreAdj":     func(p *specs.Process, _ *specs.Linux) { p.OOMScoreAdj = &oom },
		"Process.Scheduler":       func(p *specs.Process, _ *specs.Linux) { p.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch} },
		"Process.SelinuxLabel":    func(p *specs.Process, _ *specs.Linux) { p.SelinuxLabel = "x" },
		"Process.IOPriority": func(p *specs.Process, _ *specs.Linux) {
			p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
		},
		"Process.ExecCPUAffinity": func(p *specs.Process, _ *specs.Linux) { p.ExecCPUAffinity = &specs.CPUAffinity{Final: "0"} },
		"User.UID":                func(p *specs.Process, _ *specs.Linux) { p.User.UID = 6 },
		"User.GID":                func(p *specs.Process, _ *specs.Linux) { p.User.GID = 6 },
		"User.Umask":              func(p *specs.Process, _ *specs.Linux) { p.User.Umask = &umask },
		"User.AdditionalGids":     func(p *specs.Process, _ *specs.Linux) { p.User.AdditionalGids = []uint32{7} },
		"Linux.Personality": func(_ *specs.Process, l *specs.Linux) {
			l.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
		},
		"Linux.MemoryPolicy": func(_ *specs.Process, l *specs.Linux) {
			l.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolLocal}
		},
		"Linux.Seccomp": func(_ *specs.Process, l *specs.Linux) {
			l.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"reboot"}, Action: specs.ActErrno, ErrnoRet: &errno}}}
		},
	}
	elsewhere := map[string]string{
		"Process.Terminal":                 "the console socket's fd in the plan (childFds.Console), from --console-socket",
		"Process.CommandLine":              "Windows only",
		"User.Username":                    "Windows only",
		"CPUAffinity.Initial":              "kan starts the process on those CPUs (startOnCPUs)",
		"Linux.Namespaces, Resources, ...": "kan's own, before the process exists",
	}
	_ = elsewhere["Linux.Namespaces, Resources, ..."]

	base := func() (*specs.Process, *specs.Linux) {
		return &specs.Process{Args: []string{"sh"}, Cwd: "/", User: specs.User{UID: 1, GID: 1}}, &specs.Linux{}
	}
	plan := func(p *specs.Process, l *specs.Linux, caps *capabilities.Set) []byte {
		t.Helper()
		var sc *seccompSource
		if profile := l.Seccomp; profile != nil {
			sc = &seccompSource{profile: func() (*specs.LinuxSeccomp, error) { return profile, nil }}
		}
		ep, err := planExec(p, l, caps, execFds(0, true), sc) // with a terminal: consoleSize counts
		if err != nil {
			t.Fatal(err)
		}
		data, err := ep.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	noCaps, _ := capabilities.Parse(nil)
	p0, l0 := base()
	want := plan(p0, l0, noCaps)

	check := func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			name := prefix + "." + typ.Field(i).Name
			if _, ok := elsewhere[name]; ok {
				continue
			}
			mutate, ok := carried[name]
			if !ok {
				t.Errorf("%s: neither carried into the plan nor listed with what takes care of it", name)
				continue
			}
			p, l := base()
			mutate(p, l)
			caps := noCaps
			if name == "Process.Capabilities" {
				caps, _ = capabilities.Parse(&specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}})
			}
			if bytes.Equal(plan(p, l, caps), want) {
				t.Errorf("%s: changing it does not change the plan", name)
			}
		}
	}
	check("Process", reflect.TypeOf(specs.Process{}))
	check("User", reflect.TypeOf(specs.User{}))
	for _, f := range []string{"Personality", "MemoryPolicy", "Seccomp"} {
		if _, ok := reflect.TypeOf(specs.Linux{}).FieldByName(f); !ok {
			t.Errorf("specs.Linux has no %s any more", f)
		}
		check2 := carried["Linux."+f]
		p, l := base()
		check2(p, l)
		if bytes.Equal(plan(p, l, noCaps), want) {
			t.Errorf("Linux.%s: changing it does not change the plan", f)
		}
	}
	// CPUAffinity's two fields: Final is carried, Initial is kan's.
	for i := 0; i < reflect.TypeOf(specs.CPUAffinity{}).NumField(); i++ {
		if name := "CPUAffinity." + reflect.TypeOf(specs.CPUAffinity{}).Field(i).Name; name != "CPUAffinity.Final" {
			if _, ok := elsewhere[name]; !ok {
				t.Errorf("%s: neither carried into the plan nor listed with what takes care of it", name)
			}
		}
	}
}
