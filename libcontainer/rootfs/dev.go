package rootfs

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/rootless"
)

// defaultDevices are the nodes the runtime spec says every container gets.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// unprivileged tells whether the rootfs is built where the kernel refuses
// mknod and some mounts: in the container's new user namespace, or by a
// kan that itself runs in one (rootless Podman runs its runtime as root of
// the user's namespace, with configs that create none).
func (c *Config) unprivileged() bool {
	return c.UserNS || rootless.InUserNS()
}

// createDevices makes the default devices and the config's linux.devices
// in the rootfs's /dev. In a user namespace mknod is not allowed, so the
// host's node is bind-mounted onto an empty file instead.
func createDevices(c *Config, root *os.File) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	mode := os.FileMode(0o666)
	// Asked once: it reads /proc/self/uid_map.
	bind := c.unprivileged()
	for _, d := range defaultDevices {
		d.FileMode = &mode
		if err := createDevice(root, d, bind); err != nil {
			return fmt.Errorf("default device %s: %w", d.Path, err)
		}
	}
	for i, d := range c.Devices {
		if err := createDevice(root, d, bind); err != nil {
			return fmt.Errorf("linux.devices[%d] (%s): %w", i, d.Path, err)
		}
	}
	return nil
}

// createDevice makes d under root, or with bind binds the host's node.
func createDevice(root *os.File, d specs.LinuxDevice, bind bool) error {
	if bind {
		return bindDevice(root, d)
	}
	dir, name := splitDev(d.Path)
	pdir, err := openDirInRoot(root, dir)
	if err != nil {
		return err
	}
	defer pdir.Close()
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return fmt.Errorf("unknown device type %q", d.Type)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	// Replace whatever the image has there: the device must be ours.
	if err := unix.Unlinkat(int(pdir.Fd()), name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove existing %s: %w", d.Path, err)
	}
	dev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	if err := unix.Mknodat(int(pdir.Fd()), name, typ|perm, dev); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	uid, gid := -1, -1
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if uid != -1 || gid != -1 {
		if err := unix.Fchownat(int(pdir.Fd()), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	return nil
}

func bindDevice(root *os.File, d specs.LinuxDevice) error {
	// Whatever the image has there that is not a plain file (a link
	// above all: fileInRoot would follow it) goes, as with mknod.
	dir, name := splitDev(d.Path)
	pdir, err := openDirInRoot(root, dir)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(pdir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		if err := unix.Unlinkat(int(pdir.Fd()), name, 0); err != nil {
			pdir.Close()
			return fmt.Errorf("remove existing %s: %w", d.Path, err)
		}
	}
	pdir.Close()
	target, err := fileInRoot(root, d.Path)
	if err != nil {
		return err
	}
	defer target.Close()
	return unix.Mount(d.Path, fdPath(target), "", unix.MS_BIND, "")
}

func splitDev(p string) (string, string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i+1], p[i+1:]
		}
	}
	return "/", p
}

// devSymlinks adds the links every container has in /dev.
func devSymlinks(root *os.File) error {
	ddir, err := openDirInRoot(root, "/dev")
	if err != nil {
		return err
	}
	defer ddir.Close()
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
		{"pts/ptmx", "ptmx"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, l := range links {
		err := unix.Symlinkat(l[0], int(ddir.Fd()), l[1])
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}
