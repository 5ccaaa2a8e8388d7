package cgroups

import (
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	own, err := ownCgroup()
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
