package libcontainer

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeRoot builds a small container root: /etc files, programs, a link
// that points out of the root.
func fakeRoot(t *testing.T) (*os.File, string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"etc", "bin", "usr/bin", "home/u", "work/tools"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]struct {
		data string
		mode os.FileMode
	}{
		"etc/passwd":       {"root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n", 0o644},
		"etc/group":        {"root:x:0:\nu:x:1000:\nextra:x:2000:u\nmore:x:3000:someone,u\n", 0o644},
		"bin/sh":           {"#!", 0o755},
		"usr/bin/tool":     {"#!", 0o755},
		"usr/bin/data":     {"text", 0o644},
		"work/tools/local": {"#!", 0o755},
	}
	for name, f := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	// Absolute links resolve inside the root, not on the host.
	if err := os.Symlink("/usr/bin/tool", filepath.Join(dir, "bin/linked")); err != nil {
		t.Fatal(err)
	}
	root, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, dir
}

func TestLookupUserIn(t *testing.T) {
	root, dir := fakeRoot(t)
	eu, err := lookupUserIn(root, specs.User{UID: 1000, GID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// The config names the gid: supplementary groups come from
	// additionalGids only, as with runc.
	if eu.Home != "/home/u" || eu.Uid != 1000 || eu.Gid != 1000 || len(eu.Sgids) != 0 {
		t.Fatalf("user 1000: %+v", eu)
	}
	// An id without an entry keeps the config's ids and gets home /.
	if eu, err = lookupUserIn(root, specs.User{UID: 4242, GID: 7}); err != nil || eu.Home != "/" || eu.Uid != 4242 || eu.Gid != 7 || len(eu.Sgids) != 0 {
		t.Fatalf("user 4242: %+v, %v", eu, err)
	}

	// /etc/passwd linked to a host file: the link resolves inside the
	// root, where there is no such file, so it counts as missing.
	os.Remove(filepath.Join(dir, "etc/passwd"))
	if err := os.Symlink("/../../../../etc/shadow", filepath.Join(dir, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if eu, err = lookupUserIn(root, specs.User{UID: 0, GID: 0}); err != nil || eu.Home != "/" {
		t.Fatalf("passwd linked out of the root: %+v, %v (the host's file was read)", eu, err)
	}

	// A fifo as /etc/group would block a reader forever: it counts as
	// empty, at once.
	os.Remove(filepath.Join(dir, "etc/group"))
	if err := syscall.Mkfifo(filepath.Join(dir, "etc/group"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := lookupUserIn(root, specs.User{UID: 1000, GID: 1000})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lookupUserIn blocks on a fifo")
	}
}

func TestLookPathIn(t *testing.T) {
	root, _ := fakeRoot(t)
	cases := []struct {
		name, cwd string
		env       []string
		want      string // "" for an error
		errHas    string
	}{
		{"tool", "/", nil, "/usr/bin/tool", ""},
		{"sh", "/", []string{"PATH=/nope:/bin"}, "/bin/sh", ""},
		{"linked", "/", []string{"PATH=/bin"}, "/bin/linked", ""},
		{"/usr/bin/tool", "/", nil, "/usr/bin/tool", ""},
		{"local", "/work", []string{"PATH=tools"}, "tools/local", ""},
		{"./tools/local", "/work", nil, "./tools/local", ""},
		{"data", "/", []string{"PATH=/usr/bin"}, "", "not found in $PATH"},
		{"/usr/bin/data", "/", nil, "", "not an executable file"},
		{"/usr", "/", nil, "", "not an executable file"},
		{"missing", "/", []string{"PATH=/bin"}, "", `executable "missing" not found in $PATH (/bin)`},
		{"/no/such", "/", nil, "", "executable /no/such: no such file or directory"},
		// The host's /bin/sh must not be found through a path that
		// climbs out of the root.
		{"../../../../../bin/true", "/", nil, "", "no such file"},
	}
	for _, c := range cases {
		got, err := lookPathIn(root, c.name, c.cwd, c.env)
		if c.want != "" {
			if err != nil || got != c.want {
				t.Errorf("lookPathIn(%q, cwd %s, %v) = %q, %v; want %q", c.name, c.cwd, c.env, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.errHas) {
			t.Errorf("lookPathIn(%q, cwd %s, %v) = %q, %v; want an error with %q", c.name, c.cwd, c.env, got, err, c.errHas)
		}
	}
}
