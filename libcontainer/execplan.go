package libcontainer

import (
	"fmt"
	"log/slog"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/capabilities"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/procattr"
	"github.com/kan-runtime/kan/libcontainer/rootless"
	"github.com/kan-runtime/kan/libcontainer/seccomp"
	"github.com/kan-runtime/kan/spec"
)

// Every process kan makes a container's — the init, whichever builds its
// rootfs, and what `kan exec` adds — becomes it through one applier, in C
// (libcontainer/nsenter/laststage.c): kan turns the process's config into
// numbers here, the plan, and the applier carries them out from inside
// the container.
// What must be seen from inside — the user's home in the container's
// /etc/passwd, the program in its PATH — the stage looks up itself, in the
// container's root, cgroup and user namespace, as the init does.

// planExec builds the plan for process p in a container whose config's
// linux section is l, and whose linux.seccomp is sc (nil: none). caps is
// p's parsed capabilities, already trimmed to what kan can grant. fds is
// where the process finds its fds (childFds).
func planExec(p *specs.Process, l *specs.Linux, caps *capabilities.Set, fds childFds, sc *seccompSource) (*nsenter.ExecPlan, error) {
	if err := spec.CheckUserIDs(p.User); err != nil {
		return nil, err
	}
	plan := &nsenter.ExecPlan{
		RootFd:          fds.Root,
		ConsoleFd:       fds.Console,
		FirstCloexecFd:  fds.Sync,
		FifoFd:          fds.Fifo,
		DoneFd:          fds.Done,
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
	}
	if fds.Console >= 0 {
		if b := p.ConsoleSize; b != nil {
			plan.ConsoleSize = &[2]uint16{uint16(b.Height), uint16(b.Width)}
		}
	}
	if l.Personality != nil {
		persona, err := procattr.Persona(l.Personality)
		if err != nil {
			return nil, err
		}
		plan.Personality = &persona
	}
	if s := p.Scheduler; s != nil {
		attr, err := procattr.SchedulerAttr(s)
		if err != nil {
			return nil, err
		}
		plan.Scheduler = attr
		plan.SchedulerDesc = procattr.SchedulerField(s)
	}
	if io := p.IOPriority; io != nil {
		prio, err := procattr.IOPriorityValue(io)
		if err != nil {
			return nil, err
		}
		plan.IOPriority = &prio
		plan.IOPriorityDesc = procattr.IOPriorityField(io)
	}
	if mp := l.MemoryPolicy; mp != nil {
		mode, mask, maxNode, err := procattr.MemoryPolicyArgs(mp)
		if err != nil {
			return nil, err
		}
		plan.MemoryPolicy = &nsenter.MemoryPolicy{Mode: int32(mode), Nodes: mask, MaxNode: uint64(maxNode)}
		plan.MemoryPolicyDesc = procattr.MemoryPolicyField(mp)
	}
	if a := p.ExecCPUAffinity; a != nil && a.Final != "" {
		const field = "process.execCPUAffinity.final"
		set, err := procattr.CPUSetOf(field, a.Final)
		if err != nil {
			return nil, err
		}
		plan.CPUAffinity = set
		plan.CPUAffinityDesc = fmt.Sprintf("%s %q", field, a.Final)
	}
	if sc != nil {
		var err error
		if plan.Seccomp, plan.SeccompFlags, err = planSeccomp(sc); err != nil {
			return nil, err
		}
	}
	rlimits, err := planRlimits(p.Rlimits)
	if err != nil {
		return nil, err
	}
	plan.Rlimits = rlimits
	plan.Bounding, plan.Effective, plan.Permitted, plan.Inheritable, plan.Ambient, plan.CapLast, err = caps.Masks()
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// planRlimits turns process.rlimits into setrlimit(2) calls: one per
// resource, the last entry for a resource winning, as when the init sets
// them in order.
func planRlimits(rls []specs.POSIXRlimit) ([]nsenter.Rlimit, error) {
	var out []nsenter.Rlimit
	at := map[int]int{} // resource → index in out
	for _, rl := range rls {
		res, ok := rlimitTypes[rl.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits: unknown type %q", rl.Type)
		}
		r := nsenter.Rlimit{Resource: res, Soft: rl.Soft, Hard: rl.Hard}
		if i, seen := at[res]; seen {
			out[i] = r
			continue
		}
		at[res] = len(out)
		out = append(out, r)
	}
	return out, checkHardRlimits(out)
}

// planSeccomp compiles linux.seccomp for this machine (seccomp.Compile,
// through the cache) and checks that the kernel takes its flags, so that a
// refused filter fails before anything exists.
func planSeccomp(sc *seccompSource) ([]unix.SockFilter, uint, error) {
	f, err := sc.compile()
	if err != nil {
		return nil, 0, err
	}
	if len(f.Program) == 0 {
		return nil, 0, fmt.Errorf("linux.seccomp: compiled to no program") // never: the compiler always returns one
	}
	if len(f.Unknown) > 0 && debugOn() {
		// As runc and libseccomp do: a name this kan's tables lack is
		// left out of the filter.
		slog.Debug("linux.seccomp: syscalls unknown on this architecture, left out", "names", f.Unknown)
	}
	if f.Notify {
		// The listener fd goes to the agent (seccompagent.go). TSYNC
		// with a listener needs TSYNC_ESRCH, which libseccomp adds too.
		f.Flags |= seccomp.FlagNewListener
		if f.Flags&seccomp.FlagTsync != 0 {
			f.Flags |= seccomp.FlagTsyncEsrch
		}
	} else {
		// libseccomp applies it only to a filter with a listener.
		f.Flags &^= seccomp.FlagWaitKillableRecv
	}
	if err := seccomp.CheckFlags(f.Flags); err != nil {
		return nil, 0, err
	}
	return f.Program, f.Flags, nil
}

// checkHardRlimits refuses a hard limit above kan's own when kan may not
// raise it (CAP_SYS_RESOURCE over the host, which neither an unprivileged
// user nor root of a user namespace has): a container gets no more than
// its user had. Refused here, before anything exists, with the field.
func checkHardRlimits(rls []nsenter.Rlimit) error {
	canRaise := -1 // unknown until a limit needs it
	for _, r := range rls {
		var cur unix.Rlimit
		if err := unix.Getrlimit(r.Resource, &cur); err != nil || r.Hard <= cur.Max {
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
				rlimitName(r.Resource), r.Hard, cur.Max)
		}
	}
	return nil
}

func rlimitName(res int) string {
	for name, r := range rlimitTypes {
		if r == res {
			return name
		}
	}
	return fmt.Sprint(res)
}
