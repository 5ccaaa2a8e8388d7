package rootfs

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// tmpcopyup (a runc extension engines use for volumes on tmpfs): the new
// tmpfs starts with a copy of what the directory under it held. The old
// contents are read through a handle opened before the mount, which still
// sees the directory underneath.

// copyTree copies the contents of directory src into directory dst,
// keeping modes, owners and symlinks; it never follows a symlink.
func copyTree(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := copyEntry(src, dst, name); err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
	}
	return nil
}

func copyEntry(src, dst *os.File, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(int(src.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	mode := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, name, mode); err != nil {
			return err
		}
		s, err := openDirAt(sfd, name)
		if err != nil {
			return err
		}
		defer s.Close()
		d, err := openDirAt(dfd, name)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := copyTree(s, d); err != nil {
			return err
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(sfd, name, buf)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(buf[:n]), dfd, name); err != nil {
			return err
		}
	case unix.S_IFREG:
		in, err := unix.Openat(sfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		inf := os.NewFile(uintptr(in), name)
		defer inf.Close()
		out, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err != nil {
			return err
		}
		outf := os.NewFile(uintptr(out), name)
		defer outf.Close()
		if _, err := io.Copy(outf, inf); err != nil {
			return err
		}
	default: // devices, fifos, sockets
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	if err := unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// After chown, which clears set-id bits.
		return unix.Fchmodat(dfd, name, mode, 0)
	}
	return nil
}

func openDirAt(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}
