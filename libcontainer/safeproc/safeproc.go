// Package safeproc writes the procfs files kan sets up a container
// through (sysctls; oom_score_adj and the LSM exec attributes are the C
// applier's, laststage.c, which does the same) so that the write
// lands in the real file and nowhere else.
//
// The container's /proc is built from its config and rootfs: a config can
// bind-mount a host file, a tmpfs or another procfs file over /proc/sys or
// /proc/self/attr, and a plain open of "/proc/sys/..." would then write
// kan's value (as root, before capabilities are dropped) somewhere the
// container chose (the CVE-2025-52881 class). The files are therefore
// opened with pathrs-lite's procfs handle: a private procfs instance
// (fsopen/fsmount, never attached, so nothing can be mounted over it)
// where the kernel allows it, otherwise /proc checked to be a procfs root
// with no mounts crossed on the way (openat2 RESOLVE_NO_XDEV). Each file is
// checked again to be on procfs before it is written.
package safeproc

import (
	"fmt"
	"os"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// WriteRoot writes /proc/<subpath> (e.g. sys/net/ipv4/ip_forward).
func WriteRoot(subpath, value string) error {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs: %w", err)
	}
	defer proc.Close()
	f, err := proc.OpenRoot(subpath)
	if err != nil {
		return err
	}
	defer f.Close()
	return write(f, "/proc/"+subpath, value)
}

// write re-opens the O_PATH handle h for writing, checks that it is still
// procfs, and writes value in one call.
func write(h *os.File, name, value string) error {
	f, err := pathrs.Reopen(h, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s is not on procfs (type %#x): refusing to write", name, st.Type)
	}
	if _, err := f.WriteString(value); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// SelfFdPath returns f's /proc/self/fd path, for a system call that takes
// only a path, once /proc/self/fd is checked to be on procfs: in a
// container, /proc is the image's until a procfs is mounted there, and
// its "fd/N" could be links to files of the image's choice. Nothing of
// the container may run meanwhile: the path is resolved again by the
// call that takes it.
func SelfFdPath(f *os.File) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/proc/self/fd", &st); err != nil {
		return "", fmt.Errorf("/proc/self/fd: %w", err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return "", fmt.Errorf("/proc/self/fd is not on procfs (type %#x): refusing to use it", st.Type)
	}
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd()), nil
}
