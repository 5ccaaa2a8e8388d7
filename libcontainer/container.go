package libcontainer

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/bpf"
	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/cgroups/devices"
	"github.com/kan-runtime/kan/libcontainer/cgroups/systemd"
	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/crashpoint"
	"github.com/kan-runtime/kan/libcontainer/hooks"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/libcontainer/netdev"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/osthread"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
	"github.com/kan-runtime/kan/libcontainer/state"
)

// CreateOptions are the inputs of Create: the bundle's config and the
// create flags of the CLI.
type CreateOptions struct {
	Root         string // state root (--root)
	ID           string
	Config       *config.Container
	NoPivot      bool
	NoNewKeyring bool
	PreserveFds  int
	// ConsoleSocket is a connected unix socket that receives the pty
	// master when process.terminal is set.
	ConsoleSocket *os.File
	// PidfdSocket, when set, is a connected unix socket that receives a
	// pidfd of the init (--pidfd-socket).
	PidfdSocket *os.File
	// BeforeStart, when set, is called just before the container's first
	// process is started (run waits there for its signal catcher).
	BeforeStart func()
	// Exe is kan's sealed executable, started early by the caller (nil:
	// Create starts it). Create closes it, whatever its outcome.
	Exe *ExeSeal
	// SystemdCgroup: the cgroup is a systemd unit (--systemd-cgroup,
	// cgroupdriver.go).
	SystemdCgroup bool
	// Rootless: kan has no privilege over the host (--rootless, see
	// package rootless). The cgroup is a delegated one or none
	// (rootlessCgroup), and there is no device filter.
	Rootless bool
}

// Container is a container whose state directory is open and locked.
type Container struct {
	dir   *state.Dir
	State *state.State
	root  string
	linux *execLinux // the part of the config processes get, once read
}

// Create builds a container up to "created": the init process exists in its
// namespaces and cgroup, with its rootfs ready, blocked before executing the
// user program. On any failure it removes everything it made (process,
// cgroup, state directory) before returning the error.
//
// It runs in phases, each a method of creation:
//
//	check   the config against this host, and the plan of the init's
//	        process: a config refused here leaves nothing
//	claim   the state directory (the id), the cgroup with its resources,
//	        the exec fifos
//	start   the init, cloned into its cgroup and namespaces; the device
//	        filter; the pid saved; net devices moved in
//	build   the rootfs, from a thread of kan's (the C init) or by the Go
//	        init; the init becomes the process and reports ready
//	finish  the state says created
func Create(o CreateOptions) (*Container, error) {
	cr, err := checkCreate(o)
	if err != nil {
		return nil, err
	}
	defer cr.release()
	for _, phase := range []func() error{cr.claim, cr.start, cr.build, cr.finish} {
		if err := phase(); err != nil {
			claimed := cr.c != nil
			cr.undo()
			if !claimed {
				return nil, err // the id was never taken
			}
			return nil, fmt.Errorf("create %s: %w", o.ID, err)
		}
	}
	return cr.c, nil
}

// creation is a Create under way: what the check found, and what exists
// so far, for undo to remove.
type creation struct {
	o         CreateOptions
	cfg       *config.Container // o.Config
	mnt       string            // the cgroup2 mount
	cgroupDir string
	ns        *namespaces.Plan
	initPlan  []byte // the plan of the init's process (planInit)
	listener  bool   // the init's seccomp filter notifies an agent
	outside   bool   // the C init, kan building the rootfs (outside.go)
	// cloneFlags are the namespaces kan's clone makes (the C init's).
	cloneFlags uintptr

	// kan's sealed executable and the device filter need neither the
	// state nor the cgroup: they are made meanwhile, on another thread.
	seal       *ExeSeal
	filter     *bpf.Program
	filterErr  chan error
	background sync.WaitGroup

	c           *Container
	cgroupOwned bool     // the cgroup is the container's to remove
	cg          *os.File // the cgroup, for clone3 and the device filter
	fifos       []*os.File
	init        *initProcess
	netns       *os.File // the container's network namespace, for linux.netDevices

	// The systemd driver's (cgroupdriver.go): the unit, the connection
	// to systemd, the scope's holder process, and whether the unit may
	// exist.
	unit        *systemd.Unit
	sd          *systemd.Conn
	holder      *holder
	unitStarted bool
}

// checkCreate checks the config against what this host can do now (the
// config itself was checked when its model was made), and makes the
// init's plan: everything that can be refused before anything exists.
func checkCreate(o CreateOptions) (_ *creation, err error) {
	cfg := o.Config
	if cfg.Process.Terminal && o.ConsoleSocket == nil {
		return nil, errors.New("process.terminal is true: a console socket (--console-socket) must receive the terminal")
	}
	cr := &creation{o: o, cfg: cfg}
	if cr.mnt, err = cgroups.Mountpoint(); err != nil {
		return nil, err
	}
	// The connection to systemd, for --systemd-cgroup, is the check's
	// until it succeeds.
	defer func() {
		if err != nil {
			cr.sd.Close()
		}
	}()
	if err := cr.placeCgroup(); err != nil {
		return nil, err
	}
	// A user's systemd instance delegates its unit's cgroup: the
	// rootless cgroupfs rules do not apply to it.
	if o.Rootless {
		if err := checkRootlessMounts(cfg); err != nil {
			return nil, err
		}
	}
	if o.Rootless && cr.unit == nil {
		if cr.cgroupDir, err = rootlessCgroup(cr.mnt, cfg, o.ID, cr.cgroupDir); err != nil {
			return nil, err
		}
	}
	if cr.ns, err = namespaces.Prepare(cfg.Namespaces); err != nil {
		return nil, err
	}
	if err := checkSysctlNamespaces(cfg.Sysctl, cr.ns); err != nil {
		cr.ns.Close()
		return nil, err
	}
	// The plan of the process the init becomes, which the applier
	// (laststage.c) carries out for either init.
	if cr.initPlan, cr.listener, err = planInit(o, cr.seccomp()); err != nil {
		cr.ns.Close()
		return nil, err
	}
	// The init runs no Go when kan can build the rootfs from outside
	// (outside.go); otherwise the Go init builds it.
	goInitWhy := needsGoInit(cfg, cr.ns, o.NoPivot)
	cr.outside = goInitWhy == ""
	cr.cloneFlags, _ = cr.ns.CloneFlags()
	if debugOn() {
		debugCreate(o, goInitWhy)
	}
	cr.startBackground()
	return cr, nil
}

// seccomp is the container's filter, compiled through the cache under
// kan's root (nil: none).
func (cr *creation) seccomp() *seccompSource {
	if cr.cfg.Seccomp == nil {
		return nil
	}
	return &seccompSource{root: cr.o.Root, Seccomp: cr.cfg.Seccomp}
}

func debugCreate(o CreateOptions, goInitWhy string) {
	cfg := o.Config
	slog.Debug("create: config", "id", o.ID, "bundle", cfg.Bundle, "args", cfg.Process.Args, "namespaces", namespaceList(cfg.Namespaces))
	if goInitWhy == "" {
		slog.Debug("create: init is the C init stage; kan builds the rootfs from outside", "why", "every namespace is new and made by clone, no hook runs during create, no idmapped or tmpcopyup mount")
		debugMounts(cfg, "kan, from a thread in the container's namespaces")
	} else {
		slog.Debug("create: init is the Go init, which builds the rootfs inside", "why", goInitWhy)
		debugMounts(cfg, "the Go init")
	}
}

// startBackground starts making kan's sealed executable, unless the
// caller did, and loads the device filter on another thread.
func (cr *creation) startBackground() {
	if cr.seal = cr.o.Exe; cr.seal == nil {
		cr.seal = SealExe(cr.o.Root)
	}
	cr.filterErr = make(chan error, 1)
	cr.background.Add(1)
	go func() {
		defer cr.background.Done()
		var err error
		// Rootless, the kernel checks devices against the user's own
		// access, and an unprivileged user cannot load the filter
		// anyway (runc ignores the rules too).
		if !cr.o.Rootless {
			cr.filter, err = devices.Load(deviceRules(cr.cfg.Resources))
		}
		cr.filterErr <- err
	}()
}

// claim takes the id (the state directory), makes the cgroup with its
// resources and the exec fifos.
func (cr *creation) claim() error {
	o, cfg := cr.o, cr.cfg
	dir, err := state.Create(o.Root, o.ID)
	if err != nil {
		return err
	}
	cr.c = &Container{dir: dir, root: o.Root, State: &state.State{
		Public: state.Public{
			OCIVersion:  specs.Version,
			ID:          o.ID,
			Status:      Creating,
			Bundle:      cfg.Bundle,
			Rootfs:      cfg.Rootfs,
			Created:     time.Now().UTC(),
			Owner:       ownerName(),
			Annotations: cfg.Annotations,
		},
		CgroupPath:  cr.cgroupDir,
		SystemdUnit: cr.unitName(),
		Rootless:    o.Rootless,
		Config:      cfg.Record.Config,
		Resources:   cfg.Record.Resources,
		Hooks:       cfg.Record.Hooks,
		HooksKept:   true,
	}}
	// Record the cgroup before making it, so that a kan killed from here
	// on leaves enough behind for delete --force to clean up. The parents
	// a configured path needs are the container's too; the default
	// parent (/kan) is shared by all and stays.
	if cfg.CgroupsPath != "" && cr.unit == nil && cr.cgroupDir != "" {
		cr.c.State.CgroupTop = cgroups.MissingTop(cr.cgroupDir)
	}
	// Before the state names the cgroup: a kan killed after the save
	// leaves it to delete --force, which must not find another's
	// cgroup there. (After the id is taken, so that a duplicate id says
	// so rather than that its cgroup is busy.)
	if err := cgroups.CheckFree(cr.cgroupDir); err != nil {
		return err
	}
	if err := dir.Save(cr.c.State); err != nil {
		return err
	}
	crashpoint.Hit("create-state-saved")
	if cr.cgroupDir == "" { // rootless, without a cgroup
		return cr.makeFifos()
	}
	if err := cr.makeCgroup(); err != nil {
		return err
	}
	if err := cgroups.Set(cr.mnt, cr.cgroupDir, cfg.Resources); err != nil {
		return err
	}
	if debugOn() {
		slog.Debug("create: cgroup made, linux.resources set", "path", cr.cgroupDir)
	}
	crashpoint.Hit("create-cgroup")
	if cr.cg, err = os.OpenFile(cr.cgroupDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open cgroup: %w", err)
	}
	return cr.makeFifos()
}

func (cr *creation) makeFifos() error {
	startFifo, doneFifo, err := execFifos(cr.c.dir.Path)
	if err != nil {
		return err
	}
	cr.fifos = []*os.File{startFifo, doneFifo}
	crashpoint.Hit("create-fifos")
	return nil
}

// start clones the init into its cgroup and namespaces, attaches the
// device filter, saves the init's pid and moves the net devices in.
func (cr *creation) start() error {
	o, cfg, c := cr.o, cr.cfg, cr.c
	if o.BeforeStart != nil {
		o.BeforeStart()
	}
	stage := ""
	if cr.outside {
		stage = nsenter.StageInit
	}
	exe, err := cr.seal.wait()
	if err != nil {
		return err
	}
	cgFd := -1
	if cr.cg != nil {
		cgFd = int(cr.cg.Fd())
	}
	init, err := startInit(exe, cr.ns, cfg.Process, cfg.TimeOffsets, cgFd, cr.fifos, o.PreserveFds, o.ConsoleSocket, stage)
	if err != nil {
		return err
	}
	cr.init = init
	cr.releaseHolder() // the init holds the scope now
	if cr.listener {
		if init.seccomp, err = newSeccompListener(cfg.Seccomp, func(int) specs.State { return c.State.Spec(Creating) }); err != nil {
			return err
		}
	}
	crashpoint.Hit("create-init-started")
	// The device filter goes on while the init starts up: the init is
	// kan's own code until it gets its plan, and it opens devices (the
	// terminal's) only after that, when the filter is in force. Nodes
	// made by kan's thread for a rootfs built from outside are made from
	// kan's cgroup, and the defaults allow mknod anyway.
	err = <-cr.filterErr
	if err == nil && cr.filter != nil {
		err = devices.Attach(cgFd, cr.filter)
	}
	if err != nil {
		return fmt.Errorf("linux.resources.devices: %w", err)
	}
	cr.ns.Close() // the child has its own copies now
	pid, err := init.waitPid(cfg)
	if err != nil {
		return err
	}
	if debugOn() {
		slog.Debug("create: init started in its namespaces and cgroup, device filter attached", "pid", pid)
	}
	c.State.Pid = pid
	c.State.InitStartTime, _ = procStartTime(pid)
	if err := c.dir.Save(c.State); err != nil {
		return err
	}
	crashpoint.Hit("create-pid-saved")
	if o.PidfdSocket != nil {
		if err := sendPidfd(o.PidfdSocket, pid, "standard"); err != nil {
			return err
		}
	}
	if len(cfg.NetDevices) > 0 {
		if cr.netns, err = os.Open(fmt.Sprintf("/proc/%d/ns/net", pid)); err != nil {
			return fmt.Errorf("linux.netDevices: open the container's network namespace: %w", err)
		}
		if err := moveNetDevices(cfg.NetDevices, cr.netns); err != nil {
			return err
		}
	}
	return nil
}

// build has the rootfs built — from outside by kan for the C init, or by
// the Go init — and the init become the process, ready for start.
func (cr *creation) build() error {
	o, cfg, c, pid := cr.o, cr.cfg, cr.c, cr.c.State.Pid
	var err error
	if cr.outside {
		err = cr.init.buildOutside(cr.initPlan, cr.cloneFlags, rootfsConfig(cfg, cr.cgroupDir, false, o.Rootless), namesOf(cfg))
	} else {
		err = cr.init.waitReady(&initConfig{
			Rootfs: rootfsConfig(cfg, cr.cgroupDir, o.NoPivot, o.Rootless),
			Names:  namesOf(cfg),
			Hooks:  cfg.Hooks,
			Plan:   cr.initPlan,
		}, func() ([]byte, error) {
			// prestart (deprecated, but still run) and createRuntime: in
			// kan's namespaces, after the container's exist, before
			// pivot_root. The state they (and createContainer) read says
			// "created": the runtime environment exists, which is the
			// point of these hooks; crun does the same, and the
			// runtime-tools suite (hooks_stdin) expects it.
			st := c.State.OCI(Created)
			if h := cfg.Hooks; h != nil {
				if err := hooks.Run("prestart", h.Prestart, st); err != nil {
					return nil, err
				}
				if err := hooks.Run("createRuntime", h.CreateRuntime, st); err != nil {
					return nil, err
				}
			}
			return st, nil
		}, func() ([]*os.File, error) {
			return hostTrees(cfg, pid, o.Rootless)
		})
	}
	if err != nil {
		return err
	}
	cr.init.conn.Close()
	if debugOn() {
		slog.Debug("create: init ready, waiting for start", "pid", pid)
	}
	crashpoint.Hit("create-ready")
	return nil
}

// finish records that the container is created.
func (cr *creation) finish() error {
	cr.c.State.Status = Created
	if err := cr.c.dir.Save(cr.c.State); err != nil {
		return err
	}
	crashpoint.Hit("create-created")
	return nil
}

// undo removes what a failed create made, newest first.
func (cr *creation) undo() {
	if cr.netns != nil {
		// The spec asks a failed move to be reverted. The open namespace
		// keeps the interfaces even if the init is gone.
		moveNetDevicesBack(cr.cfg.NetDevices, cr.netns)
	}
	if cr.init != nil {
		cr.init.kill()
	}
	if cr.c == nil {
		return
	}
	if cr.cgroupOwned {
		cgroups.Destroy(cr.cgroupDir)
	}
	cr.stopUnit()
	cgroups.RemoveParents(cr.cgroupDir, cr.c.State.CgroupTop)
	cr.c.dir.Remove()
	cr.c = nil
}

// release closes what the create held open, whatever its outcome: the
// container itself keeps none of it.
func (cr *creation) release() {
	cr.background.Wait()
	cr.releaseHolder()
	cr.sd.Close()
	cr.seal.Close()
	if cr.filter != nil {
		cr.filter.Close() // the cgroup holds its own reference
	}
	cr.ns.Close()
	for _, f := range append(cr.fifos, cr.cg, cr.netns) {
		if f != nil {
			f.Close()
		}
	}
}

// moveNetDevices moves the host interfaces of linux.netDevices into the
// network namespace netns, in name order.
func moveNetDevices(devs map[string]specs.LinuxNetDevice, netns *os.File) error {
	for _, name := range slices.Sorted(maps.Keys(devs)) {
		if err := netdev.Move(name, devs[name].Name, fdPath(netns)); err != nil {
			return fmt.Errorf("linux.netDevices[%s]: %w", name, err)
		}
	}
	return nil
}

// moveNetDevicesBack returns to the host, after a failed create, every
// interface of linux.netDevices found in netns; what cannot be returned is
// logged.
func moveNetDevicesBack(devs map[string]specs.LinuxNetDevice, netns *os.File) {
	for _, name := range slices.Sorted(maps.Keys(devs)) {
		err := netdev.MoveBack(name, devs[name].Name, fdPath(netns))
		if err != nil && !errors.Is(err, unix.ENODEV) {
			slog.Warn(fmt.Sprintf("linux.netDevices[%s]: could not move it back to the host: %v", name, err))
		}
	}
}

func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// hostTrees makes, in the order of the config, each mount the init
// cannot make itself (rootfs.FromHost says which, rootfs/idmap.go why).
func hostTrees(cfg *config.Container, pid int, rootless bool) (trees []*os.File, err error) {
	userns := ""
	if cfg.HasNamespace(specs.UserNamespace) {
		userns = fmt.Sprintf("/proc/%d/ns/user", pid)
	}
	build := func() error {
		for i, m := range cfg.Mounts {
			if !fromHost(m, cfg.HasNamespace(specs.UserNamespace), rootless) {
				continue
			}
			t, err := rootfs.HostTree(m, cfg.Bundle, userns)
			if err != nil {
				for _, t := range trees {
					t.Close()
				}
				trees = nil
				return fmt.Errorf("mounts[%d] (bind %s on %s): %w", i, m.Source, m.Destination, err)
			}
			trees = append(trees, t)
		}
		return nil
	}
	if userns == "" {
		return trees, build()
	}
	// With a user namespace, the copies are made in the container's
	// mount namespace, by a thread of kan's (root of the host, so a
	// source under a root-only directory is reached): the kernel locked
	// the mounts of that namespace, made for a less privileged user
	// namespace, and a copy keeps the locks. A copy of the host's own
	// mounts would not: root in the container could remount a read-only
	// host mount read-write, or unmount what covers a path.
	mnt, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return nil, fmt.Errorf("open the container's mount namespace: %w", err)
	}
	defer mnt.Close()
	err = osthread.Isolated(func() error {
		// setns into a mount namespace needs a thread that shares no
		// filesystem context.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare the filesystem context: %w", err)
		}
		if err := unix.Setns(int(mnt.Fd()), unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("enter the container's mount namespace: %w", err)
		}
		return build()
	})
	return trees, err
}

func ownerName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprint(os.Getuid())
}

// Open loads an existing container and takes its lock.
func Open(root, id string) (*Container, error) {
	dir, err := state.Open(root, id, unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	st, err := dir.Load()
	if err != nil {
		dir.Close()
		return nil, err
	}
	return &Container{dir: dir, State: st, root: root}, nil
}

// Close releases the container's lock.
func (c *Container) Close() { c.dir.Close() }

// Status derives the container's status from the live process, not just
// from the file: the init may have exited, or its pid been reused.
func (c *Container) Status() string {
	return deriveStatus(c.State, c.dir != nil)
}

// StatusOf derives the status of a container read without its lock.
func StatusOf(root string, st *state.State) string {
	s := deriveStatus(st, false)
	if s == Creating && !state.IsLocked(root, st.ID) {
		return Stopped // the create that owned it died
	}
	return s
}

func deriveStatus(st *state.State, locked bool) string {
	if st.Status == Creating {
		if locked {
			return Stopped // we hold the lock, so its creator is gone
		}
		return Creating
	}
	if !alive(st.Pid, st.InitStartTime) {
		return Stopped
	}
	if frozen(st.CgroupPath) {
		return Paused
	}
	if !st.Started && procComm(st.Pid) == initComm {
		return Created
	}
	return Running
}

// Start releases the init to execute the user program.
func (c *Container) Start() error {
	switch s := c.Status(); s {
	case Created:
	default:
		return fmt.Errorf("cannot start a container that is %s", s)
	}
	if debugOn() {
		slog.Debug("start: releasing the init through exec.fifo", "id", c.State.ID, "pid", c.State.Pid)
	}
	err := releaseInit(c.dir.Path)
	crashpoint.Hit("start-released")
	os.Remove(filepath.Join(c.dir.Path, state.FifoFile))
	os.Remove(filepath.Join(c.dir.Path, state.DoneFile))
	if err != nil {
		return err
	}
	c.State.Started = true
	c.State.Status = Running
	if err := c.dir.Save(c.State); err != nil {
		return err
	}
	crashpoint.Hit("start-saved")
	h, err := c.hooks()
	if err != nil {
		return err
	}
	if debugOn() {
		slog.Debug("start: the program runs", "id", c.State.ID, "pid", c.State.Pid)
	}
	if h != nil {
		// Spec 1.3: a failing poststart hook fails the container.
		if err := hooks.Run("poststart", h.Poststart, c.State.OCI(Running)); err != nil {
			signalInit(c.State, unix.SIGKILL)
			return err
		}
	}
	return nil
}

// Signal sends sig to the init process, or with all to every process of
// the container (through its cgroup).
func (c *Container) Signal(sig unix.Signal, all bool) error {
	status := c.Status()
	if err := c.signal(sig, all, status); err != nil {
		return err
	}
	if sig == unix.SIGKILL && status == Paused && c.State.CgroupPath != "" {
		// Thawed, as by runc: what SIGKILL spared would stay frozen in
		// a container no resume accepts once it is stopped — such as
		// a process of exec --ignore-paused that has not yet joined
		// the pid namespace, and its exec with it.
		return cgroups.Thaw(c.State.CgroupPath)
	}
	return nil
}

func (c *Container) signal(sig unix.Signal, all bool, status string) error {
	if all {
		// Like runc: signalling every process of a stopped container
		// whose cgroup is empty succeeds, there is nothing left to
		// signal. containerd's shim sends "kill --all ID 9" before
		// "delete" on a forced removal (ctr task rm -f, docker rm -f) of
		// a container that already exited, and fails the removal if
		// this fails.
		if status == Stopped && !cgroupPopulated(c.State.CgroupPath) {
			return nil
		}
		return c.signalAll(sig)
	}
	if status == Stopped || status == Creating {
		// "container not running" is runc's phrase: the containerd
		// shim and CRI-O look for it after a kill races an exit.
		return fmt.Errorf("container not running (status %s)", status)
	}
	if sig == unix.SIGKILL {
		// The kernel kills a pid namespace with its init; without a
		// namespace of its own, the container's other processes would
		// outlive it. runc (1.2 on) kills the whole cgroup then too.
		own, err := c.ownPidNamespace()
		if err != nil {
			return err
		}
		if !own {
			return c.signalAll(sig)
		}
	}
	return signalInit(c.State, sig)
}

// ownPidNamespace tells whether the container's config gives it a new pid
// namespace (not the host's, nor one it joins by path).
func (c *Container) ownPidNamespace() (bool, error) {
	var cfg struct {
		Linux *struct {
			Namespaces []specs.LinuxNamespace `json:"namespaces"`
		} `json:"linux"`
	}
	if err := c.configPart("linux.namespaces", &cfg); err != nil {
		return false, err
	}
	return cfg.Linux != nil && namespaces.IsNew(cfg.Linux.Namespaces, specs.PIDNamespace), nil
}

// signalInit signals the init through a pidfd opened after checking the
// start time, so that a reused pid is never signalled.
func signalInit(st *state.State, sig unix.Signal) error {
	pidfd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return errors.New("container not running")
		}
		return unix.Kill(st.Pid, sig)
	}
	defer unix.Close(pidfd)
	if !alive(st.Pid, st.InitStartTime) {
		return errors.New("container not running")
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal %d: %w", st.Pid, err)
	}
	return nil
}

func cgroupPopulated(dir string) bool {
	pids, err := cgroups.Pids(dir)
	return err == nil && len(pids) > 0
}

// Delete removes a stopped (or created) container: its processes, cgroup
// and state. A running or paused one is removed only with force, after
// SIGKILL.
func (c *Container) Delete(force bool) error {
	switch s := c.Status(); s {
	case Running, Paused:
		if !force {
			return fmt.Errorf("cannot delete a container that is %s: stop it first or use --force", s)
		}
	}
	if debugOn() {
		slog.Debug("delete", "id", c.State.ID, "status", c.Status(), "force", force)
	}
	if c.State.Pid > 0 && alive(c.State.Pid, c.State.InitStartTime) {
		if debugOn() {
			slog.Debug("delete: SIGKILL to the init", "pid", c.State.Pid)
		}
		signalInit(c.State, unix.SIGKILL)
	}
	crashpoint.Hit("delete-killed")
	if c.State.CgroupPath != "" {
		if err := cgroups.Destroy(c.State.CgroupPath); err != nil {
			return err
		}
		cgroups.RemoveParents(c.State.CgroupPath, c.State.CgroupTop)
		stopUnitOf(c.State.SystemdUnit, c.State.Rootless)
		if debugOn() {
			slog.Debug("delete: cgroup emptied and removed", "path", c.State.CgroupPath)
		}
	}
	crashpoint.Hit("delete-cgroup-removed")
	// The init is in the cgroup, so it is dead now; wait until it is
	// gone from the process table as far as we can tell.
	for i := 0; i < 100 && alive(c.State.Pid, c.State.InitStartTime); i++ {
		time.Sleep(time.Millisecond)
	}
	if err := c.dir.Remove(); err != nil {
		return err
	}
	if debugOn() {
		slog.Debug("delete: state directory removed", "path", c.dir.Path)
	}
	crashpoint.Hit("delete-dir-removed")
	// A create killed before its first save left no config behind.
	if c.State.Config == nil {
		return nil
	}
	h, err := c.hooks()
	if err != nil {
		// The container is gone already; only its hooks are lost.
		slog.Warn(err.Error())
		return nil
	}
	if h != nil {
		// poststop failures are logged and the rest still run: the
		// container is gone anyway.
		if err := hooks.RunAll("poststop", h.Poststop, c.State.OCI(Stopped)); err != nil {
			slog.Warn(err.Error())
		}
	}
	return nil
}

// deviceRules is the device access list of the container's cgroup: the
// config's rules, then the devices every container has. The nodes of
// linux.devices get no rule of their own, as in runc: making a node grants
// nothing, and an engine that wants one usable says so in
// linux.resources.devices (docker run --device does).
func deviceRules(r *specs.LinuxResources) []specs.LinuxDeviceCgroup {
	var rules []specs.LinuxDeviceCgroup
	if r != nil {
		rules = r.Devices
	}
	return devices.Effective(rules)
}

// configPart decodes into v, a struct with only the fields a command needs,
// that part of the container's saved config; what names it in errors.
func (c *Container) configPart(what string, v any) error {
	if err := c.State.Config.DecodeInto(v); err != nil {
		return fmt.Errorf("read the %s of %s: %w", what, c.State.ID, err)
	}
	return nil
}

// hooks returns the hooks of the container's config.
func (c *Container) hooks() (*specs.Hooks, error) {
	if c.State.HooksKept {
		h, err := c.State.Hooks.Get()
		if err != nil {
			return nil, fmt.Errorf("read the hooks of %s: %w", c.State.ID, err)
		}
		return h, nil
	}
	var cfg struct {
		Hooks *specs.Hooks `json:"hooks"`
	}
	err := c.configPart("hooks", &cfg)
	return cfg.Hooks, err
}

// Process returns the process of the container's config (nil if the state
// has none): exec starts from it.
func (c *Container) Process() (*specs.Process, error) {
	var cfg struct {
		Process *specs.Process `json:"process"`
	}
	err := c.configPart("process", &cfg)
	return cfg.Process, err
}
