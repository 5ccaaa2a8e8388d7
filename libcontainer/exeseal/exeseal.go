// Package exeseal gives kan an unwritable handle on its own executable, to
// run `kan init` from.
//
// A process inside a container can make the kernel execute the binary that
// is setting the container up (a script whose interpreter is
// /proc/self/exe), then reopen that binary for writing once kan has exited
// and so overwrite kan on the host (CVE-2019-5736). kan therefore never
// runs its init stage from the host file. It executes a view of the binary
// that cannot be written: a file of a private, detached, read-only overlayfs
// mount whose lower layer is kan's directory (cheap: a few syscalls, no
// copy), or, where overlayfs is not available, a sealed memfd copy.
//
// The copy costs a `run` 6–8 ms on the benchmark's machine (7 MiB read and
// written), so the overlay must not fail for a reason kan can avoid: its
// second, empty, lower layer is the directory the caller gives, or, when
// that one overlaps kan's directory (kan in /tmp, its --root under /tmp:
// overlayfs refuses nested layers), an empty tmpfs mounted nowhere.
package exeseal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Open returns an O_PATH (or memfd) handle of kan's executable that cannot
// be written through: /proc/self/fd/<its fd> executes it. emptyDir must be an
// empty directory that is neither kan's directory nor an ancestor or
// descendant of it (overlayfs needs two non-overlapping lower layers), or
// "" for none.
//
// detach closes the handles of the detached mounts the view lives on (a
// no-op for a memfd). The kernel then tears their anonymous mount
// namespace down, and the closing thread waits for an RCU grace period:
// 30 µs on the benchmark's host, 15–20 ms in the emulated systemd VM. The
// caller hands the handle on first and detaches on a thread nobody waits
// for; the view itself lives on as long as the handle (and any process
// executing it).
func Open(emptyDir string) (f *os.File, detach func(), err error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, nil, fmt.Errorf("find kan's executable: %w", err)
	}
	// Without emptyDir, not even tried: overlayfs would log its failure
	// to resolve the layer in the kernel's log.
	var mounts []int
	if emptyDir != "" {
		f, mounts, err = overlayView(exe, emptyDir)
	}
	if emptyDir == "" || err != nil {
		f, mounts, err = overlayOnEmptyTmpfs(exe)
	}
	if err != nil {
		f, err = memfdCopy()
		for try := 1; errors.Is(err, unix.EBUSY) && try < 3; try++ {
			// F_SEAL_WRITE refused: the kernel found the copy's pages
			// still referenced after waiting for them. Seen once, in
			// CI under load (a rootless run); a fresh copy went
			// through when run again. A copy is only ever sealed.
			f, err = memfdCopy()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("seal kan's executable: %w", err)
		}
	}
	detach = func() {
		for _, fd := range mounts {
			unix.Close(fd)
		}
	}
	return f, detach, nil
}

// overlayView returns the handle of exe in a read-only overlay of its
// directory and emptyDir, and the handle of the overlay's detached mount.
func overlayView(exe, emptyDir string) (*os.File, []int, error) {
	dir, name := filepath.Split(exe)
	dir = filepath.Clean(dir)
	if strings.ContainsAny(dir+emptyDir, ":,\\") {
		return nil, nil, errors.New("path needs escaping")
	}
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "lowerdir", dir+":"+emptyDir); err != nil {
		return nil, nil, fmt.Errorf("overlay lowerdir: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, nil, fmt.Errorf("create overlay: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, nil, fmt.Errorf("fsmount overlay: %w", err)
	}
	// The mount is never attached anywhere; it lives as long as the
	// handle we open in it (and the process executing it).
	fd, err := unix.Openat(mfd, name, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("open %s in overlay: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "kan-exe"), []int{mfd}, nil
}

// overlayOnEmptyTmpfs is overlayView with a detached empty tmpfs, reached
// through its fd, as the empty layer: it overlaps no directory.
func overlayOnEmptyTmpfs(exe string) (*os.File, []int, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "size", "4k"); err != nil {
		return nil, nil, fmt.Errorf("tmpfs size: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, nil, fmt.Errorf("create tmpfs: %w", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	f, mounts, err := overlayView(exe, fmt.Sprintf("/proc/self/fd/%d", mfd))
	if err != nil {
		unix.Close(mfd)
		return nil, nil, err
	}
	return f, append(mounts, mfd), nil
}

func memfdCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("kan", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL { // kernels before 6.3 know no MFD_EXEC
		fd, err = unix.MemfdCreate("kan", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "kan-memfd")
	// A plain read and write: io.Copy between two files would splice,
	// and pages a pipe still holds make F_SEAL_WRITE fail with EBUSY
	// until the kernel lets them go.
	if _, err := io.Copy(struct{ io.Writer }{mem}, struct{ io.Reader }{src}); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copy executable: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("seal memfd: %w", err) // EBUSY: pages still referenced
	}
	return mem, nil
}
