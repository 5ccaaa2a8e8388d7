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

// IDMappedTree builds the detached, idmapped copy of bind mount m. With no
// mappings of its own, the mount takes those of the container's user
// namespace, given as containerUserNS (a /proc/<pid>/ns/user path, empty
// when the container has none).
func IDMappedTree(m specs.Mount, bundle, containerUserNS string) (*os.File, error) {
	source := m.Source
	if !filepath.IsAbs(source) {
		source = filepath.Join(bundle, source)
	}
	recursive := slices.Contains(m.Options, "ridmap")
	cloneFlags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if recursive || slices.Contains(m.Options, "rbind") {
		cloneFlags |= unix.AT_RECURSIVE
	}
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

	fd, err := unix.OpenTree(unix.AT_FDCWD, source, cloneFlags)
	if err != nil {
		return nil, fmt.Errorf("open_tree %s: %w", source, err)
	}
	tree := os.NewFile(uintptr(fd), source)
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

// mountTree moves a detached tree made by IDMappedTree to dest, then gives
// it the mount's other options.
func mountTree(root *os.File, tree *os.File, dest string, opts *options) error {
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
		return fmt.Errorf("move idmapped mount into place: %w", err)
	}
	return remountBind(root, dest, opts)
}
