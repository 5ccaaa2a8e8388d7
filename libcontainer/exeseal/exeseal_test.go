package exeseal

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sealed opens the handle with emptyDir and tells whether it is an overlay
// view (not a memfd copy) of this test binary, which cannot be written,
// and which still executes once its mounts' handles are closed (detach).
func sealed(t *testing.T, emptyDir string) {
	t.Helper()
	f, detach, err := Open(emptyDir)
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	defer f.Close()
	detach()
	if out, err := exec.Command(path, "-test.run=^$").CombinedOutput(); err != nil {
		t.Fatalf("executing the sealed view after detach: %v %s", err, out)
	}
	target, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(target, "/memfd:") {
		t.Fatalf("handle is a memfd copy (%s), not an overlay view", target)
	}
	var st, exe unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/proc/self/exe", &exe); err != nil {
		t.Fatal(err)
	}
	if st.Size != exe.Size {
		t.Fatalf("handle's size %d, executable's %d", st.Size, exe.Size)
	}
	if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		w.Close()
		t.Fatal("the sealed handle opens for writing")
	}
}

func TestOverlayView(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: overlayfs is mounted")
	}
	sealed(t, t.TempDir())
}

// TestOverlayViewNested: the empty directory given lies under kan's own
// directory (kan in /tmp, its --root under /tmp), which overlayfs refuses
// as a second layer; the view is still an overlay, not a 7 MiB copy.
func TestOverlayViewNested(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: overlayfs is mounted")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(exe), "empty-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	sealed(t, dir)
}

// TestOverlayViewWithoutEmptyDir: with no empty directory (a fresh --root),
// the view is an overlay on a detached tmpfs, not a copy.
func TestOverlayViewWithoutEmptyDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: overlayfs is mounted")
	}
	sealed(t, "")
}
