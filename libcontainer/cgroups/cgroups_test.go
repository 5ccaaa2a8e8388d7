package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	own, err := Own()
	if err != nil {
		t.Skip(err)
	}
	cases := []struct{ in, id, want string }{
		{"", "c1", "/mnt/kan/c1"},
		{"/a/b", "c1", "/mnt/a/b"},
		{"/a/./b/", "c1", "/mnt/a/b"},
		{"rel/x", "c1", "/mnt" + strings.TrimSuffix(own, "/") + "/rel/x"},
	}
	for _, c := range cases {
		got, err := Path("/mnt", c.in, c.id)
		if err != nil || got != c.want {
			t.Errorf("Path(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"/", "/a/../..", "../x"} {
		if got, err := Path("/mnt", bad, "c1"); err == nil {
			t.Errorf("Path(%q) = %q, want an error", bad, got)
		}
	}
}

func TestMountpoint(t *testing.T) {
	mnt, err := Mountpoint()
	if err != nil {
		t.Skip(err)
	}
	if _, err := Controllers(mnt); err != nil {
		t.Fatalf("%s is not a cgroup2 root: %v", mnt, err)
	}
}

// Plain directories stand in for cgroups: rmdir treats both alike when
// they are empty.
func TestMissingTopAndRemoveParents(t *testing.T) {
	root := t.TempDir()
	leaf := filepath.Join(root, "a", "b", "c")
	if got := MissingTop(leaf); got != filepath.Join(root, "a") {
		t.Fatalf("MissingTop = %q", got)
	}
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := MissingTop(leaf); got != "" {
		t.Fatalf("MissingTop of an existing dir = %q", got)
	}
	// A sibling keeps its parent alive.
	os.Mkdir(filepath.Join(root, "a", "other"), 0o755)
	os.Remove(leaf)
	RemoveParents(leaf, filepath.Join(root, "a"))
	if _, err := os.Stat(filepath.Join(root, "a", "b")); err == nil {
		t.Fatal("a/b, empty and made for the leaf, is still there")
	}
	if _, err := os.Stat(filepath.Join(root, "a")); err != nil {
		t.Fatal("a, which still holds a sibling, was removed")
	}
	os.Remove(filepath.Join(root, "a", "other"))
	os.MkdirAll(leaf, 0o755)
	os.Remove(leaf)
	RemoveParents(leaf, filepath.Join(root, "a"))
	if _, err := os.Stat(filepath.Join(root, "a")); err == nil {
		t.Fatal("a is still there")
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatal("RemoveParents went above top")
	}
	// No top, or a top that is not a parent: nothing happens.
	os.MkdirAll(leaf, 0o755)
	RemoveParents(leaf, "")
	RemoveParents(leaf, "/elsewhere")
	if _, err := os.Stat(filepath.Dir(leaf)); err != nil {
		t.Fatal("parents removed without a top")
	}
}
