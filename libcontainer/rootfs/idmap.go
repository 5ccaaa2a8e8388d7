package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/namespaces"
)

// Idmapped mounts (spec 1.2, options "idmap" and "ridmap") show a bind
// mount's files with their owners shifted through a user namespace's id
// maps. Setting MOUNT_ATTR_IDMAP needs privilege over the filesystem,
// which only kan on the host has, not the container's init: so kan builds
// each such mount as a detached tree (open_tree + mount_setattr), hands the
// init a handle on it over the sync socket, and the init moves it into
// place with move_mount.

// IsIDMapped tells whether m asks for an idmapped mount: by option, or by
// mappings of its own (which the spec wants with an option, but which
// mean nothing else, so runc takes them as "idmap" too).
func IsIDMapped(m specs.Mount) bool {
	return slices.Contains(m.Options, "idmap") || slices.Contains(m.Options, "ridmap") ||
		len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0
}

// FromHost tells whether kan makes mount m for the init, as a detached
// tree it sends over: an idmapped mount, or, in a user namespace, any
// bind mount. The init's root is then an unprivileged user of the host,
// who may not reach the source (a directory under a root-only parent):
// a thread of kan's, root of the host, copies it instead, from inside the
// container's mount namespace (so that the copy keeps the locks the
// kernel put on that namespace's mounts), as runc opens mount sources as
// root in the container's mount namespace.
func FromHost(m specs.Mount, userNS bool) bool {
	return IsIDMapped(m) || (userNS && IsBindMount(m))
}

func IsBindMount(m specs.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// HostTree builds the tree of mount m for the init (see FromHost):
// idmapped, or a plain copy of the bind mount's source.
func HostTree(m specs.Mount, bundle, containerUserNS string) (*os.File, error) {
	if IsIDMapped(m) {
		return IDMappedTree(m, bundle, containerUserNS)
	}
	return cloneSource(m, bundle)
}

// cloneSource makes a detached copy of the source of bind mount m
// (recursive for rbind), as a bind mount would.
func cloneSource(m specs.Mount, bundle string) (*os.File, error) {
	source := m.Source
	if !filepath.IsAbs(source) {
		source = filepath.Join(bundle, source)
	}
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if slices.Contains(m.Options, "rbind") || slices.Contains(m.Options, "ridmap") {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, source, flags)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", source, err)
	}
	return os.NewFile(uintptr(fd), source), nil
}

// IDMappedTree builds the detached, idmapped copy of bind mount m. With no
// mappings of its own, the mount takes those of the container's user
// namespace, given as containerUserNS (a /proc/<pid>/ns/user path, empty
// when the container has none).
func IDMappedTree(m specs.Mount, bundle, containerUserNS string) (*os.File, error) {
	recursive := slices.Contains(m.Options, "ridmap")
	var userns *os.File
	var err error
	if len(m.UIDMappings) > 0 {
		userns, err = namespaces.NewUserNS(m.UIDMappings, m.GIDMappings)
	} else if containerUserNS != "" {
		userns, err = os.Open(containerUserNS)
	} else {
		err = errors.New("no uidMappings/gidMappings, and the container has no user namespace whose maps it could use")
	}
	if err != nil {
		return nil, err
	}
	defer userns.Close()

	tree, err := cloneSource(m, bundle)
	if err != nil {
		return nil, err
	}
	source, fd := tree.Name(), int(tree.Fd())
	setFlags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		setFlags |= unix.AT_RECURSIVE
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", setFlags, attr); err != nil {
		tree.Close()
		if errors.Is(err, unix.EINVAL) {
			err = fmt.Errorf("%w (the filesystem of %s may not support idmapped mounts)", err, source)
		}
		return nil, fmt.Errorf("idmap %s: %w", source, err)
	}
	return tree, nil
}

// mountTree moves a detached tree made by HostTree to dest, with the
// propagation the container's other mounts got from setRootPropagation
// (the copy of a shared host mount would otherwise be the host's peer,
// and what the container mounts under it would reach the host), then
// gives it the mount's other options.
func mountTree(c *Config, root *os.File, tree *os.File, dest string, opts *options) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(tree.Fd()), &st); err != nil {
		return err
	}
	target, err := mountPointInRoot(root, dest, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.MoveMount(int(tree.Fd()), "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move the mount made by kan into place: %w", err)
	}
	mounted, err := OpenInRoot(root, dest, unix.O_PATH)
	if err != nil {
		return err
	}
	defer mounted.Close()
	if err := unix.Mount("", fdPath(mounted), "", rootPropagation(c.RootfsPropagation), ""); err != nil {
		return fmt.Errorf("set propagation: %w", err)
	}
	return remountBind(root, dest, opts)
}
