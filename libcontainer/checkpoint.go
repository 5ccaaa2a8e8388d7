package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/cgroups/devices"
	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/console"
	"github.com/kan-runtime/kan/libcontainer/criu"
	"github.com/kan-runtime/kan/libcontainer/hooks"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
	"github.com/kan-runtime/kan/libcontainer/state"
)

// CriuOptions are the flags checkpoint and restore share with runc's:
// what criu is asked to do and where its images are.
type CriuOptions struct {
	ImagePath string // --image-path, made if missing
	WorkPath  string // --work-path: criu's log and work files ("" = the image directory)
	// ParentPath (--parent-path) is the image directory of a previous
	// pre-dump, relative to ImagePath: only the memory changed since is
	// dumped.
	ParentPath      string
	LeaveRunning    bool
	TCPEstablished  bool
	TCPSkipInFlight bool
	LinkRemap       bool
	ExtUnixSk       bool
	ShellJob        bool
	LazyPages       bool
	StatusFd        int    // --status-fd, -1 for none
	PageServer      string // ADDRESS:PORT
	FileLocks       bool
	PreDump         bool
	CgroupsMode     string // --manage-cgroups-mode
	// EmptyNs are the namespaces criu makes but does not restore the
	// contents of; the network one always (kan, like runc, leaves a
	// container's network to whoever set it up).
	EmptyNs   []string
	AutoDedup bool
	// LsmProfile and LsmMountContext (restore) replace the process's
	// LSM label and the context= of its mounts.
	LsmProfile      string
	LsmMountContext string
}

const (
	dumpLog    = "dump.log"
	restoreLog = "restore.log"
	// descriptorsFile, in the image directory, says what the init's
	// stdio were (runc's name and format), so that a restore can hand
	// the restored process the caller's pipes in their place.
	descriptorsFile = "descriptors.json"
)

// criuView is what checkpoint and restore read of a container's config.
type criuView struct {
	mounts     []specs.Mount
	masked     []string
	devices    []string // paths of the default devices and linux.devices
	namespaces []specs.LinuxNamespace
	hooks      *specs.Hooks
}

// criuViewOf is the view of a container's saved config.
func criuViewOf(s *specs.Spec) *criuView {
	l := s.Linux
	if l == nil {
		l = &specs.Linux{}
	}
	return newCriuView(s.Mounts, s.Hooks, l.MaskedPaths, l.Devices, l.Namespaces)
}

// criuViewOfModel is the view of kan's model of a config.
func criuViewOfModel(cfg *config.Container) *criuView {
	return newCriuView(cfg.Mounts, cfg.Hooks, cfg.MaskedPaths, cfg.Devices, cfg.Namespaces)
}

func newCriuView(mounts []specs.Mount, hooks *specs.Hooks, masked []string, devs []specs.LinuxDevice, ns []specs.LinuxNamespace) *criuView {
	v := &criuView{mounts: mounts, hooks: hooks, masked: masked, namespaces: ns}
	v.devices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}
	for _, d := range devs {
		v.devices = append(v.devices, d.Path)
	}
	return v
}

// check refuses bad flags, before anything is done.
func (o *CriuOptions) check() error {
	if o.ImagePath == "" {
		return errors.New("--image-path: empty")
	}
	if _, err := criu.CgroupsMode(o.CgroupsMode); err != nil {
		return err
	}
	for _, ns := range o.EmptyNs {
		if ns != string(specs.NetworkNamespace) {
			return fmt.Errorf("--empty-ns %q: only network is supported", ns)
		}
	}
	if o.ParentPath != "" {
		if filepath.IsAbs(o.ParentPath) {
			return errors.New("--parent-path must be relative (to --image-path)")
		}
		p := filepath.Join(o.ImagePath, o.ParentPath)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			if err == nil {
				err = errors.New("not a directory")
			}
			return fmt.Errorf("--parent-path %s: %w", p, err)
		}
	}
	if o.PageServer != "" {
		if _, err := o.pageServer(); err != nil {
			return err
		}
	}
	if o.StatusFd >= 0 {
		flags, err := unix.FcntlInt(uintptr(o.StatusFd), unix.F_GETFL, 0)
		if err != nil {
			return fmt.Errorf("--status-fd %d: %w", o.StatusFd, err)
		}
		if flags&(unix.O_WRONLY|unix.O_RDWR) == 0 {
			return fmt.Errorf("--status-fd %d: not open for writing", o.StatusFd)
		}
	}
	return nil
}

func (o *CriuOptions) pageServer() (*criu.PageServer, error) {
	host, port, err := net.SplitHostPort(o.PageServer)
	n, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || n <= 0 || n > 65535 {
		return nil, fmt.Errorf("--page-server %q: not ADDRESS:PORT", o.PageServer)
	}
	return &criu.PageServer{Address: host, Port: int32(n)}, nil
}

// opts are criu's options both ways, from o (checked).
func (o *CriuOptions) opts(images *os.File, logFile string) (*criu.Opts, error) {
	mode, err := criu.CgroupsMode(o.CgroupsMode)
	if err != nil {
		return nil, err
	}
	// Always an empty network namespace: what --empty-ns can name.
	emptyNs := uint32(unix.CLONE_NEWNET)
	return &criu.Opts{
		ImagesDirFd:       int32(images.Fd()),
		LogLevel:          4,
		LogFile:           logFile,
		WorkDirFd:         -1,
		StatusFd:          -1,
		ManageCgroups:     true,
		ManageCgroupsMode: mode,
		ShellJob:          o.ShellJob,
		TCPEstablished:    o.TCPEstablished,
		ExtUnixSk:         o.ExtUnixSk,
		FileLocks:         o.FileLocks,
		EmptyNs:           emptyNs,
		// A terminal's master is outside the container (with whoever
		// got it from the console socket): criu dumps the slave alone
		// and on restore makes a new pair and hands kan the master.
		OrphanPtsMaster: true,
		AutoDedup:       o.AutoDedup,
		LazyPages:       o.LazyPages,
	}, nil
}

// dirs makes and opens the image directory and the work directory; the
// caller closes them.
func (o *CriuOptions) dirs(makeImages bool) (images, work *os.File, err error) {
	if makeImages {
		if err := os.MkdirAll(o.ImagePath, 0o700); err != nil {
			return nil, nil, fmt.Errorf("--image-path: %w", err)
		}
	}
	if images, err = os.Open(o.ImagePath); err != nil {
		return nil, nil, fmt.Errorf("--image-path: %w", err)
	}
	if o.WorkPath != "" {
		if err := os.MkdirAll(o.WorkPath, 0o700); err != nil {
			images.Close()
			return nil, nil, fmt.Errorf("--work-path: %w", err)
		}
		if work, err = os.Open(o.WorkPath); err != nil {
			images.Close()
			return nil, nil, fmt.Errorf("--work-path: %w", err)
		}
	}
	return images, work, nil
}

// Checkpoint has criu save the container's processes to o.ImagePath.
// Unless o.LeaveRunning or o.PreDump, criu stops them, and the container
// is deleted as runc deletes it. A checkpoint that fails leaves the
// container running and criu's log (dump.log) in the image (or work)
// directory.
func (c *Container) Checkpoint(o CriuOptions) error {
	switch s := c.Status(); s {
	case Running, Paused:
	default:
		// runc's phrase.
		return fmt.Errorf("container cannot be checkpointed in %s state", s)
	}
	if err := o.check(); err != nil {
		return err
	}
	if _, err := criu.Find(); err != nil {
		return err
	}
	var ps *criu.PageServer
	if o.PageServer != "" {
		ps, _ = o.pageServer()
	}
	cfg, err := c.State.Config.Get()
	if err != nil || cfg == nil {
		return fmt.Errorf("read the config of %s: %v", c.State.ID, err)
	}
	v := criuViewOf(cfg)
	images, work, err := o.dirs(true)
	if err != nil {
		return err
	}
	defer images.Close()
	if work != nil {
		defer work.Close()
	}
	opts, err := o.opts(images, dumpLog)
	if err != nil {
		return err
	}
	if work != nil {
		opts.WorkDirFd = int32(work.Fd())
	}
	opts.Pid = int32(c.State.Pid)
	opts.Root = c.State.Rootfs
	opts.LeaveRunning = o.LeaveRunning
	opts.TCPSkipInFlight = o.TCPSkipInFlight
	opts.LinkRemap = o.LinkRemap
	opts.PageServer = ps
	// criu freezes the container with its cgroup's freezer rather
	// than with ptrace: a process forking meanwhile is not missed.
	opts.FreezeCgroup = c.State.CgroupPath
	if o.ParentPath != "" {
		opts.ParentImg = o.ParentPath
		opts.TrackMem = true
	}
	if o.PreDump {
		// The next dump needs the memory changes tracked.
		opts.TrackMem = true
	}
	if o.LazyPages && o.StatusFd >= 0 {
		opts.StatusFd = int32(o.StatusFd)
	}
	// Namespaces the container joined by path are not its to save:
	// criu records them as external, and a restore hands them back.
	for _, ns := range v.namespaces {
		if ns.Path == "" || (ns.Type != specs.NetworkNamespace && ns.Type != specs.PIDNamespace) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(ns.Path, &st); err != nil {
			return fmt.Errorf("linux.namespaces (%s %s): %w", ns.Type, ns.Path, err)
		}
		opts.External = append(opts.External, fmt.Sprintf("%s[%d]:%s", criuNsName(ns.Type), st.Ino, externalNsKey(ns.Type)))
	}
	typ := criu.ReqDump
	if o.PreDump {
		typ = criu.ReqPreDump
	} else {
		// Mounts whose source is outside the rootfs are the host's:
		// criu records them by their path in the container, and a
		// restore binds the config's source there again.
		for _, m := range v.mounts {
			if rootfs.IsBindMount(m) {
				opts.ExtMnt = append(opts.ExtMnt, extMount(m.Destination, m.Destination))
			}
		}
		for _, p := range v.masked {
			// A masked file is /dev/null bound over it (a directory
			// gets a tmpfs, which criu saves).
			fi, err := os.Stat(fmt.Sprintf("/proc/%d/root%s", c.State.Pid, p))
			if err == nil && !fi.IsDir() {
				opts.ExtMnt = append(opts.ExtMnt, extMount(p, "/dev/null"))
			}
		}
		for _, d := range v.devices {
			// Bound from the host's /dev in a user namespace.
			opts.ExtMnt = append(opts.ExtMnt, extMount(d, d))
		}
		if err := writeDescriptors(c.State.Pid, o.ImagePath); err != nil {
			return err
		}
	}
	if debugOn() {
		slog.Debug("checkpoint: criu "+typ.String(), "id", c.State.ID, "pid", c.State.Pid, "images", o.ImagePath)
	}
	err = criu.Run(&criu.Request{Type: typ, Opts: opts, CgroupFd: -1})
	if err != nil {
		return criu.Failed(fmt.Errorf("checkpoint %s: %w", c.State.ID, err), criu.LogPath(o.ImagePath, o.WorkPath, dumpLog))
	}
	if o.LeaveRunning || o.PreDump {
		return nil
	}
	// The processes are gone, saved in the images: the container goes
	// too, as with runc, so that its id is free for the restore.
	return c.Delete(true)
}

func extMount(key, val string) criu.ExtMount {
	return criu.ExtMount{Key: filepath.Clean(key), Val: val}
}

// criuNsName is criu's name of a namespace type ("net", "pid").
func criuNsName(t specs.LinuxNamespaceType) string {
	if t == specs.NetworkNamespace {
		return "net"
	}
	return string(t)
}

// externalNsKey is the key an external namespace is saved under (runc's:
// a checkpoint of runc's restores with kan and the other way round).
func externalNsKey(t specs.LinuxNamespaceType) string {
	n := criuNsName(t)
	return "extRoot" + strings.ToUpper(n[:1]) + n[1:] + "NS"
}

// writeDescriptors saves what the init's fds 0, 1 and 2 are, in runc's
// format: a JSON list of /proc/PID/fd link targets ("pipe:[123]",
// "/dev/null", ...).
func writeDescriptors(pid int, imageDir string) error {
	var fds []string
	for i := 0; i < 3; i++ {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, i))
		if err != nil {
			l = "" // closed
		}
		fds = append(fds, l)
	}
	data, _ := json.Marshal(fds)
	if err := os.WriteFile(filepath.Join(imageDir, descriptorsFile), data, 0o600); err != nil {
		return fmt.Errorf("--image-path: %w", err)
	}
	return nil
}

// RestoreOptions are the inputs of Restore: a bundle, as for create, and
// the checkpoint's images.
type RestoreOptions struct {
	Create CreateOptions
	Criu   CriuOptions
}

// Restore makes container o.Create.ID from the bundle and has criu
// restore into it the processes of the checkpoint in o.Criu.ImagePath:
// its state directory and cgroup (with the config's resources and device
// filter) are made as create makes them, criu runs in that cgroup, and
// the restored init — kan's child — is recorded as running with its new
// pid. The prestart and createRuntime hooks run once criu has made the
// namespaces, as runc runs them. A restore that fails leaves nothing
// behind: no state, cgroup, mount or process.
func Restore(o RestoreOptions) (*Container, error) {
	if err := o.Criu.check(); err != nil {
		return nil, err
	}
	if _, err := criu.Find(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.Criu.ImagePath, "inventory.img")); err != nil {
		return nil, fmt.Errorf("--image-path %s: no checkpoint there: %w", o.Criu.ImagePath, err)
	}
	cr, err := checkCreate(o.Create)
	if err != nil {
		return nil, err
	}
	defer cr.release()
	restored := 0
	err = cr.claim()
	if err == nil {
		restored, err = cr.restore(&o.Criu)
	}
	if err != nil {
		claimed := cr.c != nil
		if restored > 0 {
			unix.Kill(restored, unix.SIGKILL)
		}
		cr.undo()
		if !claimed {
			return nil, err
		}
		return nil, fmt.Errorf("restore %s: %w", o.Create.ID, err)
	}
	return cr.c, nil
}

// restore is Restore's work once the state and cgroup exist: it returns
// the pid of the restored init as soon as criu has made it.
func (cr *creation) restore(o *CriuOptions) (pid int, err error) {
	c, cfg := cr.c, cr.cfg
	v := criuViewOfModel(cfg)
	if cr.cg == nil {
		return 0, errors.New("restore needs the container's cgroup: kan runs rootless here without one")
	}
	if err := <-cr.filterErr; err != nil {
		return 0, fmt.Errorf("linux.resources.devices: %w", err)
	}
	if err := devices.Attach(int(cr.cg.Fd()), cr.filter); err != nil {
		return 0, fmt.Errorf("linux.resources.devices: %w", err)
	}
	images, work, err := o.dirs(false)
	if err != nil {
		return 0, err
	}
	defer images.Close()
	if work != nil {
		defer work.Close()
	}
	opts, err := o.opts(images, restoreLog)
	if err != nil {
		return 0, err
	}
	if work != nil {
		opts.WorkDirFd = int32(work.Fd())
	}
	// The restored tree is criu's sibling: kan's child, which run-like
	// restore waits for.
	opts.RstSibling = true
	// Devices of the checkpoint that differ (a new /dev/null) are
	// accepted, as by runc.
	opts.EvasiveDevices = true
	opts.LsmProfile = o.LsmProfile
	opts.LsmMountContext = o.LsmMountContext
	// criu wants a root that is a mount point whose parent is not
	// overmounted: the rootfs bound on a directory of the state.
	root := filepath.Join(c.dir.Path, "criu-root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return 0, err
	}
	defer os.Remove(root)
	if err := prepareRestoreMounts(cfg.Rootfs, v.mounts); err != nil {
		return 0, err
	}
	if err := unix.Mount(cfg.Rootfs, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return 0, fmt.Errorf("bind the rootfs for criu: %w", err)
	}
	defer unix.Unmount(root, unix.MNT_DETACH)
	opts.Root = root

	// The container's cgroup is criu's: the restored tree's root is
	// placed there (its limits were set by claim).
	rel, err := filepath.Rel(cr.mnt, cr.cgroupDir)
	if err != nil {
		return 0, err
	}
	opts.CgRoot = append(opts.CgRoot, criu.CgroupRoot{Path: "/" + rel})

	extra, err := restoreExternals(opts, v, cfg.Bundle, o.ImagePath)
	defer func() {
		for _, f := range extra {
			f.Close()
		}
	}()
	if err != nil {
		return 0, err
	}
	if debugOn() {
		slog.Debug("restore: criu restore", "id", c.State.ID, "images", o.ImagePath, "cgroup", cr.cgroupDir)
	}
	err = criu.Run(&criu.Request{
		Type:     criu.ReqRestore,
		Opts:     opts,
		Stdio:    [3]*os.File{os.Stdin, os.Stdout, os.Stderr},
		Extra:    extra,
		CgroupFd: int(cr.cg.Fd()),
		Notify:   cr.restoreNotify(v, &pid),
	})
	if err != nil {
		return pid, criu.Failed(err, criu.LogPath(o.ImagePath, o.WorkPath, restoreLog))
	}
	if pid == 0 {
		return 0, errors.New("criu restored no process")
	}
	// The exec fifos claim made are for a start that a restored
	// container never has.
	os.Remove(filepath.Join(c.dir.Path, state.FifoFile))
	os.Remove(filepath.Join(c.dir.Path, state.DoneFile))
	return pid, nil
}

// restoreExternals adds to opts what the restored tree finds outside its
// images: namespaces given by path (joined, or handed over by fd, which it
// returns for the caller to close), bind mounts, /dev/null for masked
// paths, the devices, and the init's stdio pipes as kan's own stdio.
func restoreExternals(opts *criu.Opts, v *criuView, bundle, imagePath string) (extra []*os.File, err error) {
	for _, ns := range v.namespaces {
		if ns.Path == "" {
			continue
		}
		switch ns.Type {
		case specs.NetworkNamespace, specs.PIDNamespace:
			// Saved as external: handed to criu by fd under its key.
			f, err := os.Open(ns.Path)
			if err != nil {
				return extra, fmt.Errorf("linux.namespaces (%s %s): %w", ns.Type, ns.Path, err)
			}
			opts.InheritFd = append(opts.InheritFd, criu.InheritFd{Key: externalNsKey(ns.Type), Fd: int32(criu.FirstExtraFd + len(extra))})
			extra = append(extra, f)
		case specs.CgroupNamespace:
			return extra, fmt.Errorf("linux.namespaces (cgroup %s): criu cannot restore into a cgroup namespace given by path", ns.Path)
		default:
			opts.JoinNs = append(opts.JoinNs, criu.JoinNs{Ns: criuNsName(ns.Type), NsFile: ns.Path})
		}
	}
	for _, m := range v.mounts {
		if rootfs.IsBindMount(m) {
			src := m.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(bundle, src)
			}
			opts.ExtMnt = append(opts.ExtMnt, extMount(m.Destination, src))
		}
	}
	if len(v.masked) > 0 {
		opts.ExtMnt = append(opts.ExtMnt, extMount("/dev/null", "/dev/null"))
	}
	for _, d := range v.devices {
		opts.ExtMnt = append(opts.ExtMnt, extMount(d, d))
	}
	// The init's stdio pipes, as the checkpoint saw them, become kan's
	// own stdio (criu's, which it inherits).
	var fds []string
	if data, err := os.ReadFile(filepath.Join(imagePath, descriptorsFile)); err == nil {
		json.Unmarshal(data, &fds)
	}
	for i, d := range fds {
		if strings.HasPrefix(d, "pipe:") {
			opts.InheritFd = append(opts.InheritFd, criu.InheritFd{Key: d, Fd: int32(i)})
		}
	}
	return extra, nil
}

// restoreNotify answers criu's notifications during a restore: the
// prestart and createRuntime hooks once the namespaces exist, the
// terminal's master to the console socket, and the state once the tree
// runs (its pid into *pid).
func (cr *creation) restoreNotify(v *criuView, pid *int) func(script string, p int, fd *os.File) error {
	c := cr.c
	return func(script string, p int, fd *os.File) error {
		switch script {
		case "setup-namespaces":
			if v.hooks == nil {
				return nil
			}
			c.State.Pid = p
			st := c.State.OCI(Created)
			if err := hooks.Run("prestart", v.hooks.Prestart, st); err != nil {
				return err
			}
			return hooks.Run("createRuntime", v.hooks.CreateRuntime, st)
		case "orphan-pts-master":
			if fd == nil {
				return errors.New("criu sent no terminal")
			}
			if cr.o.ConsoleSocket == nil {
				return errors.New("the checkpoint has a terminal: --console-socket must receive it")
			}
			return console.SendFd(cr.o.ConsoleSocket, "/dev/ptmx", fd)
		case "post-restore":
			*pid = p
			c.State.Pid = p
			c.State.InitStartTime, _ = procStartTime(p)
			c.State.Created = time.Now().UTC()
			c.State.Started = true
			c.State.Status = Running
			return c.dir.Save(c.State)
		}
		return nil
	}
}

// prepareRestoreMounts makes in the rootfs the mount points the config
// needs that are missing (a fresh copy of the rootfs has none of those
// create made), except under a tmpfs, whose content criu restores.
func prepareRestoreMounts(rootPath string, mounts []specs.Mount) error {
	var tmpfs []string
	for _, m := range mounts {
		if m.Type == "tmpfs" {
			tmpfs = append(tmpfs, filepath.Clean(m.Destination)+"/")
		}
	}
	for _, m := range mounts {
		dest := filepath.Clean(m.Destination)
		under := false
		for _, t := range tmpfs {
			under = under || strings.HasPrefix(dest, t)
		}
		if under || m.Type == "cgroup" || m.Type == "cgroup2" {
			continue
		}
		p, err := securejoin.SecureJoin(rootPath, dest)
		if err != nil {
			return fmt.Errorf("mount point %s: %w", dest, err)
		}
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		isFile := false
		if rootfs.IsBindMount(m) {
			if fi, err := os.Stat(m.Source); err == nil && !fi.IsDir() {
				isFile = true
			}
		}
		if isFile {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return fmt.Errorf("mount point %s: %w", dest, err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("mount point %s: %w", dest, err)
			}
			f.Close()
		} else if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("mount point %s: %w", dest, err)
		}
	}
	return nil
}
