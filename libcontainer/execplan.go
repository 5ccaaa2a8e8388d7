package libcontainer

import (
	"fmt"
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/seccomp"
)

// Every process kan makes a container's — the init, whichever builds its
// rootfs, and what `kan exec` adds — becomes it through one applier, in C
// (libcontainer/nsenter/laststage.c): kan turns the process's config into
// numbers here, the plan, and the applier carries them out from inside
// the container.
// What must be seen from inside — the user's home in the container's
// /etc/passwd, the program in its PATH — the stage looks up itself, in the
// container's root, cgroup and user namespace, as the init does.

// planExec builds the plan for process p (kan's model of it) in a
// container whose linux.seccomp is sc (nil: none). fds is where the
// process finds its fds (childFds).
func planExec(p *config.Process, fds childFds, sc *seccompSource) (*nsenter.ExecPlan, error) {
	plan := &nsenter.ExecPlan{
		Process:        p.Process,
		RootFd:         fds.Root,
		ConsoleFd:      fds.Console,
		FirstCloexecFd: fds.Sync,
		FifoFd:         fds.Fifo,
		DoneFd:         fds.Done,
	}
	if sc != nil {
		var err error
		if plan.Seccomp, plan.SeccompFlags, err = planSeccomp(sc); err != nil {
			return nil, err
		}
	}
	return plan, nil
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
