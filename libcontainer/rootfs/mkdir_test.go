package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMkdirInRoot: a missing directory is made inside the root, through
// the one-component path and through pathrs for deeper ones, and a
// symlink pointing outside the root never leads out of it.
func TestMkdirInRoot(t *testing.T) {
	// Resolved: the paths the fds show are.
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.Mkdir(filepath.Join(dir, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(dir, "up")); err != nil {
		t.Fatal(err)
	}
	root, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, c := range []struct{ dest, want string }{
		{"/dev/pts", "dev/pts"},          // the parent exists: one mkdirat
		{"dev/shm", "dev/shm"},           // relative
		{"/a/b/c", "a/b/c"},              // several missing: pathrs
		{"/up/dev/mqueue", "dev/mqueue"}, // "/" inside the root is the root
	} {
		f, err := mkdirInRoot(root, c.dest)
		if err != nil {
			t.Fatalf("mkdirInRoot(%q): %v", c.dest, err)
		}
		got, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, c.want); got != want {
			t.Errorf("mkdirInRoot(%q) opened %s, want %s", c.dest, got, want)
		}
		if !strings.HasPrefix(got, dir+"/") {
			t.Errorf("mkdirInRoot(%q) left the root: %s", c.dest, got)
		}
	}
	// A dangling symlink to outside the root: refused (by pathrs), and
	// nothing made outside.
	if f, err := mkdirInRoot(root, "/link"); err == nil {
		f.Close()
		t.Error("mkdirInRoot through a dangling symlink succeeded")
	}
	if _, err := os.Lstat(outside); err == nil {
		t.Errorf("%s was made outside the root", outside)
	}
	// An existing file where the directory goes is refused, not followed.
	if err := os.WriteFile(filepath.Join(dir, "dev", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := mkdirInRoot(root, "/dev/file"); err == nil {
		f.Close()
		t.Error("mkdirInRoot of an existing file succeeded")
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "dev", "file"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Errorf("the file was changed: %v", err)
	}
}
