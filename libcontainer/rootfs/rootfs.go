// Package rootfs builds the container's filesystem view inside its new
// mount namespace: the propagation of the host's mounts, the config's
// mounts in order, the device nodes and symlinks of /dev, the switch of
// root with pivot_root(2) (or MS_MOVE and chroot with --no-pivot), then the
// masked and read-only paths and a read-only root.
//
// Every path inside the rootfs is resolved by the kernel as if the rootfs
// were "/" (openat2 with RESOLVE_IN_ROOT, see OpenInRoot; filepath-securejoin's
// pathrs where directories must be made), as an O_PATH handle, and mounts
// target that handle through /proc/self/fd, so that a symlink planted in
// the rootfs cannot send a mount to the host.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/lsm"
	"github.com/kan-runtime/kan/libcontainer/safeproc"
)

// Config is what the rootfs stage needs to know: the parts of kan's model
// of the container (libcontainer/config) that shape its filesystem, as
// kan sends them to the Go init, or hands them to its own thread.
type Config struct {
	Rootfs   string `json:"rootfs"` // absolute host path of root.path
	Readonly bool   `json:"readonly,omitempty"`
	Bundle   string `json:"bundle"` // relative bind sources are relative to it
	NoPivot  bool   `json:"noPivot,omitempty"`
	// Rootless: kan runs rootless, as the container's own user; the init
	// reaches every bind source kan could.
	Rootless  bool   `json:"rootless,omitempty"`
	UserNS    bool   `json:"userns,omitempty"`    // in a user namespace: no mknod, fewer mount rights
	CgroupDir string `json:"cgroupDir,omitempty"` // host directory of the container's cgroup
	CgroupNS  bool   `json:"cgroupns,omitempty"`  // the container has a new cgroup namespace
	Terminal  bool   `json:"terminal,omitempty"`  // /dev/console is the process's pty

	Mounts            []specs.Mount       `json:"mounts,omitempty"`
	Devices           []specs.LinuxDevice `json:"devices,omitempty"`
	RootfsPropagation string              `json:"rootfsPropagation,omitempty"`
	MaskedPaths       []string            `json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string            `json:"readonlyPaths,omitempty"`
	MountLabel        string              `json:"mountLabel,omitempty"`

	// HostTrees holds, by index in Mounts, the mounts kan made for the
	// init (see FromHost).
	HostTrees map[int]*os.File `json:"-"`
	// MountProc, when set, mounts a procfs on target for the rootfs
	// built from outside the container: a procfs belongs to the pid
	// namespace of the task that mounts it, so a process inside must.
	MountProc func(target *os.File, source string, flags uintptr, data string) error `json:"-"`
}

// Prepare does everything that must happen before the root changes.
func Prepare(c *Config) error {
	if err := setRootPropagation(c.RootfsPropagation); err != nil {
		return err
	}
	// pivot_root needs the new root to be a mount point; bind it onto
	// itself. The parent mount must not be shared either.
	if err := unix.Mount(c.Rootfs, c.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mount rootfs %s: %w", c.Rootfs, err)
	}
	if err := makeParentPrivate(c.Rootfs); err != nil {
		return err
	}
	root, err := os.OpenFile(c.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()
	devBound := false
	deferred := readonlyLater(c.Mounts)
	var later []*os.File // the deferred mounts, each held as made
	defer func() {
		for _, f := range later {
			f.Close()
		}
	}()
	for i, m := range c.Mounts {
		if err := mountOne(c, root, m, c.HostTrees[i], deferred[i]); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
		if deferred[i] {
			// Held now: a later mount at the same place, or above it,
			// must not take its read-only flag.
			f, err := OpenInRoot(root, filepath.Clean("/"+m.Destination), unix.O_PATH)
			if err != nil {
				return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
			}
			later = append(later, f)
		}
		if filepath.Clean("/"+m.Destination) == "/dev" && m.Type != "tmpfs" && m.Type != "devtmpfs" {
			devBound = true
		}
	}
	if !devBound {
		if err := createDevices(c, root); err != nil {
			return err
		}
	}
	if err := devSymlinks(root); err != nil {
		return err
	}
	if c.Terminal {
		// The terminal is bound onto /dev/console after this; on a
		// read-only /dev it could not be made then.
		if err := consolePlaceholder(root); err != nil {
			return err
		}
	}
	j := 0
	for i, m := range c.Mounts {
		if deferred[i] {
			if err := remountReadonlyFd(later[j]); err != nil {
				return fmt.Errorf("mounts[%d] (%s on %s): read-only once the mounts under it are made: %w", i, m.Type, m.Destination, err)
			}
			j++
		}
	}
	return nil
}

// consolePlaceholder makes /dev/console, an empty file the terminal is
// bound onto, if there is none.
func consolePlaceholder(root *os.File) error {
	ddir, err := openDirInRoot(root, "/dev")
	if err != nil {
		return err
	}
	defer ddir.Close()
	fd, err := unix.Openat(int(ddir.Fd()), "console", unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	return unix.Close(fd)
}

// remountReadonlyFd makes the mount f holds read-only, keeping the flags
// the kernel locks on it.
func remountReadonlyFd(f *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY) | lockedFlags(st.Flags)
	return unix.Mount("", fdPath(f), "", flags, "")
}

// readonlyLater tells, for each mount, whether it is read-only ("ro")
// with something made under it afterwards: a later mount, or kan's own
// /dev nodes and links. Such a mount is made writable and turned
// read-only once everything under it exists, as runc does for /dev: a
// read-only tmpfs at /dev would otherwise refuse the mount point of
// /dev/pts. Bind mounts are not deferred: a mount point made under a
// writable bind would be made in the host's directory; nor "rro", whose
// recursion must not reach the mounts made later.
func readonlyLater(mounts []specs.Mount) []bool {
	under := func(dest, parent string) bool {
		return parent == "/" || dest == parent || strings.HasPrefix(dest, parent+"/")
	}
	out := make([]bool, len(mounts))
	for i, m := range mounts {
		opts, err := parseOptions(m.Options)
		if err != nil || opts.flags&unix.MS_RDONLY == 0 || opts.isBind() || m.Type == "bind" {
			continue // a bad option list fails in mountOne
		}
		dest := filepath.Clean("/" + m.Destination)
		if under("/dev", dest) {
			out[i] = true
			continue
		}
		for _, later := range mounts[i+1:] {
			if d := filepath.Clean("/" + later.Destination); d != dest && under(d, dest) {
				out[i] = true
				break
			}
		}
	}
	return out
}

// setRootPropagation makes the host's mounts, as seen in our new mount
// namespace, slaves (private if linux.rootfsPropagation asks for it), so
// that nothing the container mounts while it is set up reaches the host.
// The configured propagation itself is applied to the new root by Finish:
// shared or unbindable here would break the setup (a shared parent fails
// pivot_root, an unbindable one the rootfs bind mount).
func setRootPropagation(prop string) error {
	if err := unix.Mount("", "/", "", rootPropagation(prop), ""); err != nil {
		return fmt.Errorf("set propagation of /: %w", err)
	}
	return nil
}

// rootPropagation is the propagation setRootPropagation gives the host's
// mounts for linux.rootfsPropagation prop.
func rootPropagation(prop string) uintptr {
	if prop == "private" || prop == "rprivate" {
		return unix.MS_PRIVATE | unix.MS_REC
	}
	return unix.MS_SLAVE | unix.MS_REC
}

// makeParentPrivate ensures the mount holding the rootfs is not shared, a
// condition of pivot_root(2).
func makeParentPrivate(rootfs string) error {
	if err := unix.Mount("", rootfs, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make rootfs mount private: %w", err)
	}
	return nil
}

// Pivot changes the root to rootfs and detaches the old one.
func Pivot(rootfs string, noPivot bool) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to rootfs: %w", err)
	}
	if noPivot {
		// MS_MOVE the rootfs over / and chroot: for roots pivot_root
		// cannot handle (an initramfs), at the cost of the old root
		// staying reachable to a process that escapes the chroot.
		if err := hideHostProcfs(rootfs); err != nil {
			return fmt.Errorf("--no-pivot: hide the host's procfs and sysfs: %w", err)
		}
		if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move rootfs to /: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	// pivot_root(".", ".") stacks the old root on the new one at the
	// same place; unmounting it then drops the old root, without a
	// temporary directory in the container's filesystem.
	oldRoot, err := os.OpenFile("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer oldRoot.Close()
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// After pivot_root our cwd is still the new root's mount: "." would
	// name it, not the old root stacked on it, and making it an rslave
	// would undo the propagation of every container mount (a "shared"
	// bind mount would end up private). Work from the old root itself.
	if err := unix.Fchdir(int(oldRoot.Fd())); err != nil {
		return fmt.Errorf("fchdir to old root: %w", err)
	}
	// Make the old root a slave first, so that detaching it does not
	// propagate unmounts to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root a slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// hideHostProcfs detaches (or, where the kernel refuses, covers with a
// tmpfs) every procfs and sysfs of the mount namespace outside rootfs, as
// runc does for --no-pivot. The kernel lets a new user namespace mount a
// fresh procfs or sysfs only if one is already fully visible in its mount
// namespace; after a chroot the host's /proc and /sys would still be, and
// a process of the container could then unshare a user namespace and
// mount a procfs with nothing of linux.maskedPaths hidden.
func hideHostProcfs(rootfs string) error {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		inside := m.Mountpoint == rootfs || strings.HasPrefix(m.Mountpoint, rootfs+"/")
		return (m.FSType != "proc" && m.FSType != "sysfs") || inside, false
	})
	if err != nil {
		return err
	}
	for _, m := range mounts {
		// A slave first, so that the unmount does not reach the host.
		if err := unix.Mount("", m.Mountpoint, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // under one detached already
			}
			return fmt.Errorf("%s: %w", m.Mountpoint, err)
		}
		err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
			// Locked by a user namespace: cover it instead.
			err = unix.Mount("tmpfs", m.Mountpoint, "tmpfs", 0, "")
		}
		if err != nil {
			return fmt.Errorf("%s: %w", m.Mountpoint, err)
		}
	}
	return nil
}

// Finish runs after the root change: masked and read-only paths, a
// read-only root, and the root propagation the config asks for.
func Finish(c *Config) error {
	for _, p := range c.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
		}
	}
	for _, p := range c.MaskedPaths {
		if err := maskPath(p); err != nil {
			return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
		}
	}
	if c.Readonly {
		if err := remountReadonly("/"); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	// Private needs nothing more: setRootPropagation made every mount
	// private before the container's were made, and rprivate now would
	// undo the propagation those mounts ask for (as runc, skip it).
	if p, ok := propagationOpts[c.RootfsPropagation]; ok && p&unix.MS_PRIVATE == 0 {
		if err := unix.Mount("", "/", "", p, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s: %w", c.RootfsPropagation, err)
		}
	}
	return nil
}

// remountReadonly makes the mount at path read-only, keeping the flags the
// kernel locks on it (a user namespace may not drop nosuid, nodev, ...).
func remountReadonly(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY) | lockedFlags(st.Flags)
	return unix.Mount("", path, "", flags, "")
}

// lockedFlags converts statfs flags to the mount flags a remount must keep.
func lockedFlags(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV,
		unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_NOATIME: unix.MS_NOATIME,
		unix.ST_NODIRATIME: unix.MS_NODIRATIME, unix.ST_RELATIME: unix.MS_RELATIME,
		unix.ST_RDONLY: unix.MS_RDONLY,
	} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out
}

func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // nothing to protect
		}
		return err
	}
	return remountReadonly(p)
}

// maskPath hides p: a directory under an empty read-only tmpfs, a file
// under /dev/null. /dev/null is checked first to be the real null device,
// so that a container cannot have it replaced by something it controls
// (the CVE-2025-31133 class).
func maskPath(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		return unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0k")
	}
	null, err := os.OpenFile("/dev/null", unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open /dev/null: %w", err)
	}
	defer null.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(null.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		return errors.New("/dev/null is not the null device (1:3); refusing to mask with it")
	}
	// A bind mount of the very file checked, made with the mount API
	// rather than through /proc/self/fd: after pivot_root, a rootfs
	// built from outside has no /proc/self of its own.
	tree, err := unix.OpenTree(int(null.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOSYS) {
		// Refused by a seccomp filter kan runs under, say: through
		// this process's procfs, which the Go init has, once checked
		// to be one (the container's /proc is the image's otherwise).
		src, err := safeproc.SelfFdPath(null)
		if err != nil {
			return err
		}
		return unix.Mount(src, p, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("clone /dev/null: %w", err)
	}
	defer unix.Close(tree)
	return unix.MoveMount(tree, "", unix.AT_FDCWD, p, unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_SYMLINKS)
}

func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// mountOne performs one entry of config mounts.
// tree, when not nil, is the mount already made by kan (HostTree).
// With writableFirst, a read-only mount is made writable: Prepare turns it
// read-only later (readonlyLater).
func mountOne(c *Config, root *os.File, m specs.Mount, tree *os.File, writableFirst bool) error {
	opts, err := parseOptions(m.Options)
	if err != nil {
		return err
	}
	if writableFirst {
		opts.flags &^= unix.MS_RDONLY
	}
	dest := filepath.Clean("/" + m.Destination)
	typ := m.Type
	if typ == "bind" {
		opts.flags |= unix.MS_BIND
	}
	source := m.Source
	if opts.isBind() && source != "" && !filepath.IsAbs(source) {
		source = filepath.Join(c.Bundle, source)
	}

	if opts.copyUp && typ != "tmpfs" {
		return fmt.Errorf("tmpcopyup works only for tmpfs, not %q", typ)
	}
	switch {
	case tree != nil:
		return mountTree(c, root, tree, dest, opts)
	case opts.isBind():
		return mountBind(root, source, dest, opts)
	case typ == "cgroup" || typ == "cgroup2":
		return mountCgroup(c, root, dest, opts)
	}

	target, err := mkdirInRoot(root, dest)
	if err != nil {
		return err
	}
	defer target.Close()
	if typ == "proc" || typ == "sysfs" {
		if err := checkProcfsTarget(target, dest, typ); err != nil {
			return err
		}
	}
	var under *os.File // the directory the mount covers, for tmpcopyup
	if opts.copyUp {
		if under, err = pathrs.Reopen(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC); err != nil {
			return err
		}
		defer under.Close()
	}
	data := lsm.MountData(opts.dataString(), typ, c.MountLabel)
	if typ == "proc" && c.MountProc != nil {
		err = c.MountProc(target, source, opts.flags, data)
	} else {
		err = unix.Mount(source, fdPath(target), typ, opts.flags, data)
	}
	if err != nil && c.unprivileged() && (typ == "sysfs" || typ == "mqueue") && errors.Is(err, unix.EPERM) {
		// A user namespace without its own network (sysfs) or ipc
		// (mqueue) namespace may not mount these: show the host's
		// instead, read-only where asked, as runc does.
		hostPath := map[string]string{"sysfs": "/sys", "mqueue": "/dev/mqueue"}[typ]
		bind := *opts
		bind.flags |= unix.MS_BIND | unix.MS_REC
		return mountBind(root, hostPath, dest, &bind)
	}
	if err != nil {
		return err
	}
	if under != nil {
		if err := copyUp(root, dest, under); err != nil {
			return fmt.Errorf("tmpcopyup: %w", err)
		}
	}
	return finishMountAt(root, dest, opts)
}

// copyUp copies the directory a tmpfs now covers into the tmpfs at dest.
func copyUp(root *os.File, dest string, under *os.File) error {
	dst, err := OpenInRoot(root, dest, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer dst.Close()
	return copyTree(under, dst)
}

// checkProcfsTarget refuses to mount proc or sysfs on a destination that is
// not a plain directory where the spec expects it, so that a rootfs cannot
// make kan mount over something else through a symlink.
func checkProcfsTarget(target *os.File, dest, typ string) error {
	want := map[string]string{"proc": "/proc", "sysfs": "/sys"}[typ]
	if dest != want {
		return fmt.Errorf("%s must be mounted on %s, not %s", typ, want, dest)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(target.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", dest)
	}
	return nil
}

func mountBind(root *os.File, source, dest string, opts *options) error {
	fi, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	target, err := mountPointInRoot(root, dest, fi.IsDir())
	if err != nil {
		return err
	}
	defer target.Close()
	flags := uintptr(unix.MS_BIND) | opts.flags&unix.MS_REC
	if err := unix.Mount(source, fdPath(target), "", flags, ""); err != nil {
		return err
	}
	return remountBind(root, dest, opts)
}

// remountBind gives the bind mount now at dest its other flags (ro,
// nosuid, ...), which only take with a remount, then its propagation and
// recursive attributes.
func remountBind(root *os.File, dest string, opts *options) error {
	if rest := opts.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 || opts.cleared != 0 {
		mounted, err := OpenInRoot(root, dest, unix.O_PATH)
		if err != nil {
			return err
		}
		defer mounted.Close()
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(mounted.Fd()), &st); err != nil {
			return err
		}
		keep := lockedFlags(st.Flags) &^ opts.cleared
		if err := unix.Mount("", fdPath(mounted), "", unix.MS_BIND|unix.MS_REMOUNT|rest|keep, ""); err != nil {
			return fmt.Errorf("remount with options: %w", err)
		}
	}
	return finishMountAt(root, dest, opts)
}

// finishMountAt applies propagation and recursive attributes to the mount
// now at dest. It re-opens dest: a handle opened before the mount shows
// the directory underneath, not the new mount.
func finishMountAt(root *os.File, dest string, opts *options) error {
	if len(opts.propagation) == 0 && opts.attrSet == 0 && opts.attrClr == 0 {
		return nil
	}
	mounted, err := OpenInRoot(root, dest, unix.O_PATH)
	if err != nil {
		return err
	}
	defer mounted.Close()
	path := fdPath(mounted)
	for _, p := range opts.propagation {
		if err := unix.Mount("", path, "", p, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	if opts.attrSet != 0 || opts.attrClr != 0 {
		attr := &unix.MountAttr{Attr_set: opts.attrSet, Attr_clr: opts.attrClr}
		if err := unix.MountSetattr(-1, path, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("mount_setattr: %w", err)
		}
	}
	return nil
}

// mountCgroup mounts the cgroup v2 hierarchy at dest. With its own cgroup
// namespace the container gets a fresh cgroup2 mount rooted at its cgroup;
// without one, a bind mount of its cgroup directory, so that it never sees
// the rest of the host's hierarchy. A v1 "cgroup" mount (as engines on
// hybrid hosts ask for) is served the same way: kan is v2 only.
func mountCgroup(c *Config, root *os.File, dest string, opts *options) error {
	target, err := mkdirInRoot(root, dest)
	if err != nil {
		return err
	}
	defer target.Close()
	flags := opts.flags &^ (unix.MS_BIND | unix.MS_REC)
	if c.CgroupNS {
		err = unix.Mount("cgroup2", fdPath(target), "cgroup2", flags, "")
		if err == nil {
			return finishMountAt(root, dest, opts)
		}
		if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EBUSY) {
			return err
		}
	}
	if c.CgroupDir == "" {
		return errors.New("no cgroup to mount")
	}
	bind := *opts
	bind.flags = flags | unix.MS_BIND
	return mountBind(root, c.CgroupDir, dest, &bind)
}

// OpenInRoot opens path inside root with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS): the kernel resolves every component, symlinks and
// ".." included, as if root were "/", so the file it returns cannot be
// outside root. pathrs-lite does the same on kernels with openat2, and then
// reads the file's path back through procfs only to name the *os.File; that
// naming, a dozen syscalls per path, is what this skips. A rename racing the
// lookup makes the kernel answer EAGAIN: it is tried again a few times.
func OpenInRoot(root *os.File, path string, flags uint64) (*os.File, error) {
	how := &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	var err error
	for range 16 {
		var fd int
		fd, err = unix.Openat2(int(root.Fd()), path, how)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(root.Name(), path)), nil
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			break
		}
	}
	return nil, &os.PathError{Op: "open in rootfs", Path: path, Err: err}
}

// mkdirInRoot resolves dest inside root, creating missing directories,
// and returns an O_PATH handle on it.
func mkdirInRoot(root *os.File, dest string) (*os.File, error) {
	if f, err := OpenInRoot(root, dest, unix.O_PATH|unix.O_DIRECTORY); err == nil {
		return f, nil
	}
	if f, err := mkdirLeafInRoot(root, dest, unix.O_PATH); err == nil {
		return f, nil
	}
	f, err := pathrs.MkdirAllHandle(root, dest, 0o755)
	if err != nil {
		return nil, fmt.Errorf("create mount point %s in rootfs: %w", dest, err)
	}
	return f, nil
}

// openDirInRoot resolves dir inside root, creating what is missing, and
// opens it as a directory, to create entries in it with the *at calls.
func openDirInRoot(root *os.File, dir string) (*os.File, error) {
	if f, err := OpenInRoot(root, dir, unix.O_RDONLY|unix.O_DIRECTORY); err == nil {
		return f, nil
	}
	if f, err := mkdirLeafInRoot(root, dir, unix.O_RDONLY); err == nil {
		return f, nil
	}
	h, err := pathrs.MkdirAllHandle(root, dir, 0o755)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
}

// mkdirLeafInRoot makes the last component of dest, a directory, when its
// parent exists inside root, and opens it with flags: the common case
// (dev/pts, dev/shm and dev/mqueue in a fresh /dev), in three system
// calls. The parent is resolved inside root (OpenInRoot); the new
// directory is made in it and opened beneath it, a symlink or a mount
// put there meanwhile refused. Anything else (several components missing,
// a race) is left to pathrs.MkdirAllHandle, which on its first use mounts
// a private procfs to check the paths it walks.
func mkdirLeafInRoot(root *os.File, dest string, flags uint64) (*os.File, error) {
	parent, leaf := filepath.Split(filepath.Clean("/" + dest))
	if leaf == "" || leaf == "." || leaf == ".." {
		return nil, &os.PathError{Op: "mkdir in rootfs", Path: dest, Err: unix.EINVAL}
	}
	p, err := OpenInRoot(root, parent, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if err := unix.Mkdirat(int(p.Fd()), leaf, 0o755); err != nil && err != unix.EEXIST {
		return nil, &os.PathError{Op: "mkdir in rootfs", Path: dest, Err: err}
	}
	how := &unix.OpenHow{
		Flags:   flags | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
	}
	fd, err := unix.Openat2(int(p.Fd()), leaf, how)
	if err != nil {
		return nil, &os.PathError{Op: "open in rootfs", Path: dest, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root.Name(), dest)), nil
}

// mountPointInRoot is mkdirInRoot for a directory to mount, fileInRoot
// for anything else.
func mountPointInRoot(root *os.File, dest string, dir bool) (*os.File, error) {
	if dir {
		return mkdirInRoot(root, dest)
	}
	return fileInRoot(root, dest)
}

// fileInRoot resolves dest inside root, creating an empty file (and its
// parents) if missing, and returns an O_PATH handle on it.
func fileInRoot(root *os.File, dest string) (*os.File, error) {
	if f, err := OpenInRoot(root, dest, unix.O_PATH); err == nil {
		return f, nil
	}
	dir, name := filepath.Split(dest)
	parentDir, err := openDirInRoot(root, dir)
	if err != nil {
		return nil, fmt.Errorf("create parent of %s in rootfs: %w", dest, err)
	}
	defer parentDir.Close()
	fd, err := unix.Openat(int(parentDir.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("create mount point %s in rootfs: %w", dest, err)
	}
	if err == nil {
		unix.Close(fd)
	}
	return OpenInRoot(root, dest, unix.O_PATH)
}
