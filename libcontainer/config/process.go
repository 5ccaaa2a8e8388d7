package config

import (
	"fmt"
	"log/slog"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/capabilities"
	"github.com/kan-runtime/kan/libcontainer/lsm"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/procattr"
	"github.com/kan-runtime/kan/libcontainer/rootless"
	"github.com/kan-runtime/kan/spec"
)

// Process is kan's model of a container's process — the init's or one
// `kan exec` adds: what the applier carries out (nsenter.Process, as
// numbers), and what kan itself does around it.
type Process struct {
	nsenter.Process
	// Terminal: the process gets a pty, its master sent to the console
	// socket.
	Terminal bool
	// InitialCPUs, when set, are the CPUs kan starts the process on
	// (process.execCPUAffinity.initial), until the cgroup's cpuset or
	// execCPUAffinity.final takes over.
	InitialCPUs *unix.CPUSet
}

// NewProcess checks process p, one that `kan exec` adds to a container
// whose config has linux section l (for the linux fields that shape every
// process of a container: personality, memory policy), and gives its
// model.
func NewProcess(p *specs.Process, l *specs.Linux) (*Process, error) {
	if err := spec.CheckProcess(p); err != nil {
		return nil, err
	}
	if l == nil {
		l = &specs.Linux{}
	}
	return newProcess(p, l)
}

// newProcess is the model of p, already checked by spec's rules, in a
// container whose config has linux section l.
func newProcess(p *specs.Process, l *specs.Linux) (*Process, error) {
	if err := lsm.Check(p.ApparmorProfile, p.SelinuxLabel, ""); err != nil {
		return nil, err
	}
	caps, err := grantableCaps(p.Capabilities)
	if err != nil {
		return nil, err
	}
	m := &Process{Terminal: p.Terminal, Process: nsenter.Process{
		OOMScoreAdj:     p.OOMScoreAdj,
		UID:             p.User.UID,
		GID:             p.User.GID,
		Groups:          p.User.AdditionalGids,
		Umask:           p.User.Umask,
		NoNewPrivileges: p.NoNewPrivileges,
		Cwd:             p.Cwd,
		Args:            p.Args,
		Env:             p.Env,
		ApparmorProfile: p.ApparmorProfile,
		SelinuxLabel:    p.SelinuxLabel,
		GroupsDesc:      fmt.Sprintf("process.user.additionalGids %v", p.User.AdditionalGids),
	}}
	if b := p.ConsoleSize; b != nil {
		m.ConsoleSize = &[2]uint16{uint16(b.Height), uint16(b.Width)}
	}
	if l.Personality != nil {
		persona, err := procattr.Persona(l.Personality)
		if err != nil {
			return nil, err
		}
		m.Personality = &persona
	}
	if s := p.Scheduler; s != nil {
		if m.Scheduler, err = procattr.SchedulerAttr(s); err != nil {
			return nil, err
		}
		m.SchedulerDesc = procattr.SchedulerField(s)
	}
	if io := p.IOPriority; io != nil {
		prio, err := procattr.IOPriorityValue(io)
		if err != nil {
			return nil, err
		}
		m.IOPriority = &prio
		m.IOPriorityDesc = procattr.IOPriorityField(io)
	}
	if mp := l.MemoryPolicy; mp != nil {
		mode, mask, maxNode, err := procattr.MemoryPolicyArgs(mp)
		if err != nil {
			return nil, err
		}
		m.MemoryPolicy = &nsenter.MemoryPolicy{Mode: int32(mode), Nodes: mask, MaxNode: uint64(maxNode)}
		m.MemoryPolicyDesc = procattr.MemoryPolicyField(mp)
	}
	if a := p.ExecCPUAffinity; a != nil {
		if a.Initial != "" {
			if m.InitialCPUs, err = procattr.CPUSetOf("process.execCPUAffinity.initial", a.Initial); err != nil {
				return nil, err
			}
		}
		if a.Final != "" {
			const field = "process.execCPUAffinity.final"
			if m.CPUAffinity, err = procattr.CPUSetOf(field, a.Final); err != nil {
				return nil, err
			}
			m.CPUAffinityDesc = fmt.Sprintf("%s %q", field, a.Final)
		}
	}
	m.Rlimits = rlimits(p.Rlimits)
	if err := checkHardRlimits(p.Rlimits); err != nil {
		return nil, err
	}
	m.Bounding, m.Effective, m.Permitted, m.Inheritable, m.Ambient, m.CapLast, err = caps.Masks()
	if err != nil {
		return nil, err
	}
	return m, nil
}

// grantableCaps parses process.capabilities and leaves out, with a
// warning, what kan itself does not have.
func grantableCaps(c *specs.LinuxCapabilities) (*capabilities.Set, error) {
	caps, err := capabilities.Parse(c)
	if err != nil {
		return nil, err
	}
	if dropped, err := caps.DropUngrantable(); err != nil {
		return nil, err
	} else if len(dropped) > 0 {
		slog.Warn("process.capabilities: kan runs without these, so the container cannot get them either; left out", "capabilities", dropped)
	}
	// runc spec's default config lists ambient capabilities without
	// inheritable ones; runc runs it silently, so this is no warning.
	if raise := caps.RaisableAmbient(); len(raise) < len(caps.Ambient) {
		slog.Debug("process.capabilities.ambient: capabilities not also in permitted and inheritable cannot be raised and are left out",
			"ambient", caps.Ambient, "raised", raise)
	}
	return caps, nil
}

// rlimits turns process.rlimits, checked (one entry per resource), into
// setrlimit(2) calls.
func rlimits(rls []specs.POSIXRlimit) []nsenter.Rlimit {
	out := make([]nsenter.Rlimit, 0, len(rls))
	for _, rl := range rls {
		out = append(out, nsenter.Rlimit{Resource: spec.Rlimits[rl.Type], Soft: rl.Soft, Hard: rl.Hard})
	}
	return out
}

// checkHardRlimits refuses a hard limit above kan's own when kan may not
// raise it (CAP_SYS_RESOURCE over the host, which neither an unprivileged
// user nor root of a user namespace has): a container gets no more than
// its user had. Refused here, before anything exists, with the field.
func checkHardRlimits(rls []specs.POSIXRlimit) error {
	canRaise := -1 // unknown until a limit needs it
	for _, r := range rls {
		var cur unix.Rlimit
		if err := unix.Getrlimit(spec.Rlimits[r.Type], &cur); err != nil || r.Hard <= cur.Max {
			continue
		}
		if canRaise < 0 {
			canRaise = 0
			if capabilities.HaveOnHost(capability.CAP_SYS_RESOURCE, rootless.InUserNS()) {
				canRaise = 1
			}
		}
		if canRaise == 0 {
			return fmt.Errorf("process.rlimits: %s hard limit %d is above kan's own (%d), and kan may not raise it (it lacks CAP_SYS_RESOURCE over the host: an unprivileged user, or root of a user namespace, gives a container no more than it has)",
				r.Type, r.Hard, cur.Max)
		}
	}
	return nil
}
