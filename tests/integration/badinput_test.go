package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestBadInput: each case is a clear error that names what is wrong, a
// non-zero exit, and nothing left behind: no state directory, no cgroup,
// no host mount.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	rawBundle := func(config string) string {
		dir := t.TempDir()
		os.Symlink(rootfsDir, filepath.Join(dir, "rootfs"))
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644)
		return dir
	}
	edit := func(f func(s *specs.Spec)) string {
		b := newBundle(t, "true")
		f(b.Spec)
		return b.write(t)
	}
	cases := []struct {
		name   string
		bundle string // "" means a valid one
		id     string // "" means a fresh valid one
		want   string
	}{
		{"missing bundle", "/nonexistent/bundle", "", "/nonexistent/bundle"},
		{"missing config.json", t.TempDir(), "", "config.json"},
		{"unparsable config", rawBundle("{\n  \"ociVersion\": \"1.0.0\",\n  \"process\": {\n}}}"), "", "line 4"},
		{"wrong type", rawBundle(`{"ociVersion":"1.0.0","process":{"user":{"uid":"root"}}}`), "", "process.user.uid"},
		{"unknown ociVersion major", edit(func(s *specs.Spec) { s.Version = "2.0.0" }), "", "ociVersion"},
		{"missing rootfs", edit(func(s *specs.Spec) { s.Root.Path = "/nonexistent/rootfs" }), "", "/nonexistent/rootfs"},
		{"no args", edit(func(s *specs.Spec) { s.Process.Args = nil }), "", "process.args"},
		{"relative cwd", edit(func(s *specs.Spec) { s.Process.Cwd = "tmp" }), "", "process.cwd"},
		{"unknown namespace", edit(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}), "", "bogus"},
		{"duplicate namespace", edit(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}), "", "duplicate"},
		{"seccomp", edit(func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_ALLOW"} }), "", "seccomp"},
		{"unknown capability", edit(func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_FLY"} }), "", "CAP_FLY"},
		{"executable not found", edit(func(s *specs.Spec) { s.Process.Args = []string{"/no/such/program"} }), "", "/no/such/program"},
		{"cwd missing", edit(func(s *specs.Spec) { s.Process.Cwd = "/no/such/dir" }), "", "process.cwd"},
		{"bad mount option", edit(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=bogus"}})
		}), "", "mounts["},
		{"memory limit on this host", edit(func(s *specs.Spec) {
			limit := int64(64 << 20)
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		}), "", "linux.resources.memory.limit"},
		{"rlimit above hard", edit(func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1 << 30, Hard: 1 << 30}}
		}), "", "RLIMIT_NOFILE"},
		{"id with slash", "", "a/b", "invalid container id"},
		{"id with dots", "", "..", "invalid container id"},
		{"empty id", "", " ", "invalid container id"},
		{"over-long id", "", strings.Repeat("x", 2000), "container id"},
	}
	before := hostMounts(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bundle := c.bundle
			if bundle == "" {
				bundle = newBundle(t, "true").write(t)
			}
			id := c.id
			if id == "" {
				id = newID(t)
			}
			e.fails(c.want, "create", "--bundle", bundle, id)
			if c.id == "" {
				e.assertGone(id)
			}
			if entries, _ := os.ReadDir(e.root); len(entries) > 1 {
				t.Errorf("state root not clean: %v", entries) // .exeseal-empty is kan's
			}
		})
	}
	if diff := mountDiff(before, hostMounts(t)); diff != "" {
		t.Fatal("host mount table changed:\n" + diff)
	}
}

func TestDuplicateIDAndUnknownID(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sleep", "1000")
	id := e.create(b)
	e.fails("already exists", "create", "--bundle", b.write(t), id)
	if s := e.status(id); s != "created" {
		t.Fatalf("duplicate create touched the container: %q", s)
	}
	e.fails("does not exist", "kill", "no-such-container", "KILL")
	e.fails("does not exist", "start", "no-such-container")
	e.fails("does not exist", "state", "no-such-container")
	e.fails("expected exactly one container id", "start")
	e.fails("--pid-file", "create", "--pid-file", "/nonexistent/dir/pid", "--bundle", b.dir, newID(t))
}
