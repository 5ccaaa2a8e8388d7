package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/osthread"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
	"github.com/kan-runtime/kan/libcontainer/seccomp"
)

// A container's init need not run Go. When kan's clone made all of the
// container's namespaces (no user or time namespace, none joined) and no
// hook has to run inside, kan builds the rootfs itself, from a thread of
// its own that enters the container's mount, UTS, IPC, network and cgroup
// namespaces, and the init stays in C (nsenter/initstage.c): it mounts
// the procfs (which belongs to the pid namespace of whoever mounts it) and
// makes the terminal when kan asks, then becomes the process from the plan
// kan made of its config, as `kan exec`'s process does (execplan.go).
//
// The init then costs the container no Go runtime: neither its start-up
// (a third of a `kan run`), nor its memory in the container's cgroup. The
// kernel objects of the mounts are charged to kan too. The Go init
// (init.go) remains for what the thread cannot do: join a user namespace
// (a multi-threaded process may not), run createContainer and
// startContainer hooks inside, chroot the init with --no-pivot (chroot
// changes only the caller), or take idmapped mounts (they need the
// container's user namespace). A tmpcopyup mount keeps it too: the copy's
// pages are charged to the cgroup of whoever writes them, and an image's
// directory must count against the container's memory, not kan's.

// initOutside says whether the init of container cfg can be the C init
// stage, its rootfs built from outside.
func initOutside(cfg *config.Container, plan *namespaces.Plan, noPivot bool) bool {
	return needsGoInit(cfg, plan, noPivot) == ""
}

// needsGoInit says why the init of container cfg must be the Go init, or
// "" when it need not.
func needsGoInit(cfg *config.Container, plan *namespaces.Plan, noPivot bool) string {
	if _, byClone := plan.CloneFlags(); !byClone {
		return "a namespace is joined, or is a user or time namespace (clone alone cannot make it)"
	}
	if noPivot {
		return "--no-pivot (chroot changes only the caller)"
	}
	if cfg.CreateHooks() {
		return "hooks run during create"
	}
	for i, m := range cfg.Mounts {
		if rootfs.IsIDMapped(m) {
			return fmt.Sprintf("mounts[%d] is idmapped (needs the container's user namespace)", i)
		}
		if slices.Contains(m.Options, "tmpcopyup") {
			return fmt.Sprintf("mounts[%d] is tmpcopyup (the copy is charged to the container's memory)", i)
		}
	}
	return ""
}

// planInit makes the plan of the init's process, for either init:
// `kan exec`'s, with the init's fds (see startInit) and keyring.
func planInit(o CreateOptions, sc *seccompSource) (plan []byte, listener bool, err error) {
	// The init has no root fd: pivot_root moves its root with kan's
	// thread's (or the Go init's own).
	ep, err := planExec(o.Config.Process, initFds(o.PreserveFds, o.ConsoleSocket != nil), sc)
	if err != nil {
		return nil, false, err
	}
	ep.Init = true
	if !o.NoNewKeyring {
		// A session keyring of its own, so that the container cannot
		// see or use the keys of kan's session.
		ep.Keyring = "_ses." + o.ID
	}
	plan, err = ep.Marshal()
	return plan, ep.SeccompFlags&seccomp.FlagNewListener != 0, err
}

// buildOutside sends the init its plan, builds the rootfs from a thread
// in the container's namespaces, and lets the init become the process;
// it returns once the init is ready for start.
func (p *initProcess) buildOutside(wirePlan []byte, cloneFlags uintptr, rc *rootfs.Config, n names) error {
	if _, err := p.conn.f.Write(wirePlan); err != nil {
		return p.opFailed(err)
	}
	// The thread enters the container: it is thrown away afterwards.
	if err := osthread.Isolated(func() error { return p.buildRootfs(cloneFlags, rc, n) }); err != nil {
		return err
	}
	if err := p.request(nsenter.OpRun, 0, nil, nil); err != nil {
		return err
	}
	return p.expect(msgReady)
}

// buildRootfs runs on a thread of its own (osthread.Isolated): it enters the init's
// namespaces and does what the Go init does, up to the process.
//
// After pivot_root the thread's root is the container's, while it is still
// root of the host: what runs here from then on makes system calls only,
// and must load nothing lazily (time zones, user databases, plugins)
// that would be read from the container's files.
func (p *initProcess) buildRootfs(cloneFlags uintptr, rc *rootfs.Config, n names) error {
	// setns into a mount namespace needs a thread that shares no root or
	// working directory with others; the umask then is this thread's.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare the filesystem context: %w", err)
	}
	if err := p.enterNamespaces(cloneFlags); err != nil {
		return fmt.Errorf("enter the container's namespaces: %w", err)
	}
	rc.MountProc = func(target *os.File, source string, flags uintptr, data string) error {
		return p.op(nsenter.OpMountProc, uint64(flags), []byte(source+"\x00"+data+"\x00"), target)
	}
	if err := rootfs.Prepare(rc); err != nil {
		return err
	}
	// pivot_root moves the root of every process of the namespace whose
	// root is the old one: the init's with this thread's.
	if err := rootfs.Pivot(rc.Rootfs, false); err != nil {
		return err
	}
	if rc.Terminal {
		if err := p.op(nsenter.OpTerminal, 0, nil, nil); err != nil {
			return err
		}
	}
	if err := n.set(); err != nil {
		return err
	}
	return rootfs.Finish(rc)
}

// enterNamespaces moves this thread into the init's namespaces of the
// kinds kan's clone made (not the pid one, which only children enter),
// and gives it the init's root: setns into a mount namespace sets the
// namespace's root, which is not kan's if kan runs chrooted. Every file is
// opened first, from kan's root. The working directory stays kan's, as
// for the Go init (relative mount data resolve there).
func (p *initProcess) enterNamespaces(cloneFlags uintptr) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", p.pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	// One file per namespace rather than setns on a pidfd, which needs
	// Linux 5.8. The init is kan's child, not yet reaped: its pid
	// cannot name another process.
	type nsFile struct {
		t    specs.LinuxNamespaceType
		flag uintptr
		f    *os.File
	}
	var files []nsFile
	defer func() {
		for _, n := range files {
			n.f.Close()
		}
	}()
	for _, t := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.UTSNamespace, specs.IPCNamespace, specs.NetworkNamespace, specs.CgroupNamespace} {
		flag := namespaces.CloneFlag(t)
		if cloneFlags&flag == 0 {
			continue
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", p.pid, namespaces.ProcName(t)))
		if err != nil {
			return err
		}
		files = append(files, nsFile{t, flag, f})
	}
	for _, n := range files {
		if err := unix.Setns(int(n.f.Fd()), int(n.flag)); err != nil {
			return fmt.Errorf("%s namespace: %w", n.t, err)
		}
	}
	if err := unix.Fchdir(int(root.Fd())); err != nil {
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	if unix.Chdir(wd) != nil {
		return unix.Chdir("/") // not in the container's view of the host
	}
	return nil
}

// op makes one request of the init stage, with file if not nil, and waits
// until it is done.
func (p *initProcess) op(op int, flags uint64, data []byte, file *os.File) error {
	if err := p.request(op, flags, data, file); err != nil {
		return err
	}
	return p.expect(msgOK)
}

// request sends the init stage one request, with file if not nil.
func (p *initProcess) request(op int, flags uint64, data []byte, file *os.File) error {
	req, err := nsenter.MarshalOp(op, flags, data)
	if err != nil {
		return err
	}
	var rights []byte
	if file != nil {
		rights = unix.UnixRights(int(file.Fd()))
	}
	n, err := unix.SendmsgN(int(p.conn.f.Fd()), req, rights, nil, 0)
	if err == nil && n < len(req) {
		_, err = p.conn.f.Write(req[n:]) // the rest, after a short send
	}
	if err != nil {
		return p.opFailed(err)
	}
	return nil
}

// expect waits for the init's answer of type want, or its error.
func (p *initProcess) expect(want string) error {
	m, err := p.recv()
	switch {
	case err != nil:
		return p.initFailed(err)
	case m.Type == want:
		return nil
	case m.Type == msgError:
		return errors.New(m.Msg)
	}
	return fmt.Errorf("unexpected message %q from kan init", m.Type)
}

// opFailed explains a failed write to the init or the exec stage: the
// stage may have failed before reading it all, and its reason is then on
// the socket.
func (p *initProcess) opFailed(err error) error {
	if m, rerr := p.conn.recv(); rerr == nil && m.Type == msgError {
		return errors.New(m.Msg)
	}
	return p.initFailed(err)
}
