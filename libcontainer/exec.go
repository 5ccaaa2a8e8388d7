package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/crashpoint"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/seccomp"
)

// `kan exec` adds a process to a running container. It is started like
// the init (a sealed kan, cloned straight into the cgroup, the nsenter
// stage joining every namespace of the init and forking into its pid
// namespace so that the new process is kan's child), then the exec stage,
// still in C, takes the init's root, becomes the process kan exec planned
// (execplan.go) and executes it. Nothing of the rootfs is built again,
// and no Go runtime starts inside the container.

// ExecOptions describe one process to add to a container.
type ExecOptions struct {
	Process       *config.Process // NewProcess's model of it
	ConsoleSocket *os.File        // receives the pty master when Process.Terminal
	PidfdSocket   *os.File        // receives a pidfd of the process (--pidfd-socket)
	PreserveFds   int             // fds 3..3+N-1 of the caller go to the process
	SubCgroup     string          // run in this cgroup below the container's (--cgroup)
	IgnorePaused  bool
	BeforeStart   func()   // called just before the process is started
	Exe           *ExeSeal // kan's sealed executable, started early (nil: Exec starts it); Exec closes it
}

// Exec starts o.Process in the container and returns its pid once the
// program is executing (an error from any step before, exec included,
// comes back here). The process is a child of the caller. Exec releases
// the container's lock before it starts the process.
func (c *Container) Exec(o ExecOptions) (int, error) {
	defer o.Exe.Close()
	pid, err := c.exec(o)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", c.State.ID, err)
	}
	return pid, nil
}

func (c *Container) exec(o ExecOptions) (int, error) {
	if err := c.checkExec(o); err != nil {
		return 0, err
	}
	t, err := c.execTarget(o)
	if err != nil {
		return 0, err
	}
	defer t.close()
	ep, err := planExec(o.Process, execFds(o.PreserveFds, o.ConsoleSocket != nil), t.seccomp)
	if err != nil {
		return 0, err
	}
	// The handles of the target are all the process needs of the
	// container, so the lock goes now: a process cloned into a frozen
	// cgroup waits there until a resume, which must be able to take the
	// lock. A delete meanwhile kills it with the rest of the cgroup.
	c.Close()
	return c.runExec(o, t, ep)
}

// NewProcess checks p, a process to add to the container, and gives kan's
// model of it (config.NewProcess), with the linux fields of the
// container's config that shape each of its processes.
func (c *Container) NewProcess(p *specs.Process) (*config.Process, error) {
	l, err := c.execLinux()
	if err != nil {
		return nil, err
	}
	return config.NewProcess(p, &specs.Linux{Personality: l.Personality, MemoryPolicy: l.MemoryPolicy})
}

// checkExec checks that the container takes a process now, and that the
// caller can give it what it asks for.
func (c *Container) checkExec(o ExecOptions) error {
	switch status := c.Status(); status {
	case Created, Running:
		// Like runc, a created container takes processes too: its
		// namespaces and root are ready, only its program waits.
	case Paused:
		if !o.IgnorePaused {
			// runc's words, which engines may match.
			return errors.New("cannot exec in a paused container (use --ignore-paused to override)")
		}
	default:
		return fmt.Errorf("cannot exec in a %s container", status)
	}
	if o.Process.Terminal && o.ConsoleSocket == nil {
		return errors.New("process.terminal is true: a console socket (--console-socket) must receive the terminal")
	}
	return nil
}

// execLinux is the part of the container's linux section its processes
// get: the fields that shape each process, and the seccomp filter's JSON.
// Decoded once per command.
type execLinux struct {
	Personality  *specs.LinuxPersonality  `json:"personality,omitempty"`
	MemoryPolicy *specs.LinuxMemoryPolicy `json:"memoryPolicy,omitempty"`
	Seccomp      json.RawMessage          `json:"seccomp,omitempty"`
}

func (c *Container) execLinux() (*execLinux, error) {
	if c.linux != nil {
		return c.linux, nil
	}
	var cfg struct {
		Linux *execLinux `json:"linux"`
	}
	if err := c.configPart("linux section", &cfg); err != nil {
		return nil, err
	}
	if cfg.Linux == nil {
		return nil, errors.New("state has no config (created by an older kan?)")
	}
	c.linux = cfg.Linux
	return c.linux, nil
}

// execTarget is what an exec'd process enters, opened while the
// container's lock is held and its init checked to be the one kan
// started: the cgroup, the init's namespaces and root, and the parts of
// the config the process gets.
type execTarget struct {
	cg      *os.File
	ns      *namespaces.Plan
	root    *os.File
	seccomp *seccompSource
}

func (c *Container) execTarget(o ExecOptions) (_ *execTarget, err error) {
	l, err := c.execLinux()
	if err != nil {
		return nil, err
	}
	initPid := c.State.Pid
	cgroupDir := c.State.CgroupPath
	if o.SubCgroup != "" && cgroupDir == "" {
		return nil, errNoCgroup("--cgroup " + o.SubCgroup)
	}
	if o.SubCgroup != "" {
		sub := filepath.Clean("/" + o.SubCgroup)
		if strings.Contains(o.SubCgroup, "..") {
			return nil, fmt.Errorf("--cgroup %s: must stay below the container's cgroup", o.SubCgroup)
		}
		cgroupDir = filepath.Join(cgroupDir, sub)
	}
	t := &execTarget{}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	if cgroupDir != "" {
		if t.cg, err = os.OpenFile(cgroupDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("open cgroup: %w", err)
		}
	}
	if t.ns, err = namespaces.JoinProcess(initPid); err != nil {
		return nil, err
	}
	if debugOn() {
		var joined []string
		for _, h := range t.ns.Join {
			joined = append(joined, string(h.Type))
		}
		slog.Debug("exec: joining the init's namespaces and root; the C exec stage runs the process", "id", c.State.ID, "args", o.Process.Args,
			"init", initPid, "namespaces", strings.Join(joined, " "), "cgroup", cgroupDir)
	}
	// The init's root, to chroot into once in its mount namespace: the
	// namespace's own root is not the container's after --no-pivot.
	if t.root, err = os.OpenFile(fmt.Sprintf("/proc/%d/root", initPid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("open the container's root: %w", err)
	}
	// The init is still the one kan started: the handles above are its.
	if !alive(initPid, c.State.InitStartTime) {
		return nil, errors.New("the container stopped")
	}
	// The container's filter, as runc gives it: its JSON, decoded only
	// when no compiled filter is cached for it, or for its listener.
	if sc := config.NewSeccomp(l.Seccomp, c.State.ID); sc != nil {
		t.seccomp = &seccompSource{root: c.root, Seccomp: sc}
	}
	return t, nil
}

func (t *execTarget) close() {
	for _, f := range []*os.File{t.cg, t.root} {
		if f != nil {
			f.Close()
		}
	}
	if t.ns != nil {
		t.ns.Close()
	}
}

// runExec starts the process in the target, sends it its plan and waits
// until its program runs (or its failure), returning its pid.
func (c *Container) runExec(o ExecOptions, t *execTarget, ep *nsenter.ExecPlan) (int, error) {
	wire, err := ep.Marshal()
	if err != nil {
		return 0, err
	}
	if o.BeforeStart != nil {
		o.BeforeStart()
	}
	seal := o.Exe // Exec closes it
	if seal == nil {
		seal = SealExe(c.root)
		defer seal.Close()
	}
	exe, err := seal.wait()
	if err != nil {
		return 0, err
	}
	cgFd := -1
	if t.cg != nil {
		cgFd = int(t.cg.Fd())
	}
	init, err := startInit(exe, t.ns, o.Process, nil, cgFd, []*os.File{t.root}, o.PreserveFds, o.ConsoleSocket, nsenter.StageExec)
	if err != nil {
		return 0, err
	}
	ok := false
	defer func() {
		if !ok {
			init.kill()
		}
	}()
	if ep.SeccompFlags&seccomp.FlagNewListener != 0 {
		if init.seccomp, err = newSeccompListener(t.seccomp.Seccomp, func(int) specs.State { return c.State.Spec(Running) }); err != nil {
			return 0, err
		}
	}
	crashpoint.Hit("exec-cloned")
	t.ns.Close() // the child has its own copies now
	pid, err := init.waitPid(nil)
	if err != nil {
		return 0, err
	}
	crashpoint.Hit("exec-pid")
	if debugOn() {
		slog.Debug("exec: process started, sending its plan", "pid", pid)
	}
	if o.PidfdSocket != nil {
		if err := sendPidfd(o.PidfdSocket, pid, "setns"); err != nil {
			return 0, err
		}
	}
	if _, err := init.conn.f.Write(wire); err != nil {
		return 0, init.opFailed(err)
	}
	// The sync socket closes on exec: EOF means the program runs; the
	// exec stage reports any failure before that.
	m, err := init.recv()
	switch {
	case err == nil && m.Type == msgError:
		return 0, errors.New(m.Msg)
	case err == nil:
		return 0, fmt.Errorf("unexpected message %q from kan exec", m.Type)
	case !errors.Is(err, io.EOF) && !errors.Is(err, unix.ECONNRESET):
		return 0, init.initFailed(err)
	}
	init.conn.Close()
	ok = true
	if debugOn() {
		slog.Debug("exec: the program runs", "pid", pid)
	}
	crashpoint.Hit("exec-running")
	return pid, nil
}
