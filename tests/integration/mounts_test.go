package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	id       string
	opts     []string // per-mount options: rw, nosuid, relatime, ...
	optional []string // shared:N, master:N, unbindable
	fstype   string
	super    []string // superblock options: size=..., mode=...
}

func (m mountEntry) has(opt string) bool { return slices.Contains(m.opts, opt) }

// optional returns the value of a tagged optional field ("shared" gives
// the N of shared:N), or "" when absent.
func (m mountEntry) tag(name string) string {
	for _, f := range m.optional {
		if k, v, _ := strings.Cut(f, ":"); k == name {
			if v == "" {
				return name
			}
			return v
		}
	}
	return ""
}

// parseMountinfo returns the entries of a mountinfo text by mount point;
// of several mounts at the same point, the last (the visible one) wins.
func parseMountinfo(text string) map[string]mountEntry {
	out := map[string]mountEntry{}
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		sep := slices.Index(f, "-")
		if len(f) < 10 || sep < 6 || sep+3 >= len(f) {
			continue
		}
		out[f[4]] = mountEntry{
			id: f[0], opts: strings.Split(f[5], ","), optional: f[6:sep],
			fstype: f[sep+1], super: strings.Split(f[sep+3], ","),
		}
	}
	return out
}

// containerMounts runs the bundle with a script that ends by printing its
// mountinfo after a "--mountinfo--" line; it returns what came before and
// the parsed table.
func (e *env) containerMounts(b *bundle) (string, map[string]mountEntry) {
	e.t.Helper()
	out := e.mustRun(b)
	before, info, ok := strings.Cut(out, "--mountinfo--\n")
	if !ok {
		e.t.Fatalf("no mountinfo in output: %q", out)
	}
	return before, parseMountinfo(info)
}

func withMountinfo(script string) []string {
	return []string{"sh", "-c", script + "; echo --mountinfo--; cat /proc/self/mountinfo"}
}

// writableBundle is a bundle on a private, writable copy of the rootfs,
// for mounts whose mount points kan must create.
func writableBundle(t *testing.T, args ...string) (*bundle, string) {
	t.Helper()
	root := t.TempDir() + "/rootfs"
	copyRootfs(t, root)
	b := newBundle(t, args...)
	b.Spec.Root.Path = root
	b.Spec.Root.Readonly = false
	return b, root
}

// TestMountFlagOptions: every per-mount flag option, on a tmpfs and on a
// bind mount, shows in the container's mountinfo as asked.
func TestMountFlagOptions(t *testing.T) {
	e := newEnv(t)
	hostDir := t.TempDir()
	cases := []struct {
		opts        []string
		want, unset []string // options mountinfo must and must not list
	}{
		{[]string{"ro"}, []string{"ro"}, []string{"rw"}},
		{[]string{"ro", "rw"}, []string{"rw"}, []string{"ro"}},
		{[]string{"nosuid"}, []string{"nosuid"}, nil},
		{[]string{"nodev"}, []string{"nodev"}, nil},
		{[]string{"noexec"}, []string{"noexec"}, nil},
		{[]string{"nosuid", "suid"}, nil, []string{"nosuid"}},
		{[]string{"nodev", "dev"}, nil, []string{"nodev"}},
		{[]string{"noexec", "exec"}, nil, []string{"noexec"}},
		{[]string{"noatime"}, []string{"noatime"}, []string{"relatime"}},
		{[]string{"relatime"}, []string{"relatime"}, []string{"noatime"}},
		// strictatime: neither relatime nor noatime.
		{[]string{"strictatime"}, nil, []string{"relatime", "noatime"}},
		{[]string{"nodiratime"}, []string{"nodiratime"}, nil},
		{[]string{"nosymfollow"}, []string{"nosymfollow"}, nil},
		{[]string{"sync"}, []string{"sync"}, nil},
		{[]string{"dirsync"}, []string{"dirsync"}, nil},
	}
	for _, kind := range []string{"tmpfs", "bind"} {
		for _, c := range cases {
			t.Run(kind+"/"+strings.Join(c.opts, "+"), func(t *testing.T) {
				e := &env{t: t, root: e.root}
				b := newBundle(t, withMountinfo("true")...)
				m := specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: c.opts}
				if kind == "bind" {
					if c.opts[0] == "sync" || c.opts[0] == "dirsync" {
						t.Skip("sync and dirsync are superblock flags: a bind mount cannot set them")
					}
					m = specs.Mount{Destination: "/tmp", Type: "bind", Source: hostDir, Options: append([]string{"bind"}, c.opts...)}
				}
				b.Spec.Mounts = append(b.Spec.Mounts, m)
				_, mi := e.containerMounts(b)
				got, ok := mi["/tmp"]
				if !ok {
					t.Fatalf("no mount at /tmp: %v", mi)
				}
				all := append(append([]string{}, got.opts...), got.super...)
				for _, w := range c.want {
					if !slices.Contains(all, w) {
						t.Errorf("options %v: mountinfo %v lacks %q", c.opts, got.opts, w)
					}
				}
				for _, u := range c.unset {
					if got.has(u) {
						t.Errorf("options %v: mountinfo %v has %q", c.opts, got.opts, u)
					}
				}
			})
		}
	}
}

// TestMountFlagsEffects: the flags do what they say, not only show.
func TestMountFlagsEffects(t *testing.T) {
	e := newEnv(t)
	hostDir := t.TempDir()
	os.WriteFile(hostDir+"/prog", []byte("#!/bin/sh\necho ran\n"), 0o755)
	os.Symlink("prog", hostDir+"/link")
	b := newBundle(t, "sh", "-c", `
touch /ro/new 2>&1 || echo ro-write-failed
cat /ro/prog >/dev/null && echo ro-readable
/noexec/prog 2>&1 || echo noexec-failed
/exec/prog
cat /nosymfollow/link 2>&1 || echo symlink-refused
cat /exec/link >/dev/null && echo symlink-followed
`)
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/ro", Type: "bind", Source: hostDir, Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/noexec", Type: "bind", Source: hostDir, Options: []string{"bind", "noexec"}},
		specs.Mount{Destination: "/exec", Type: "bind", Source: hostDir, Options: []string{"bind"}},
		specs.Mount{Destination: "/nosymfollow", Type: "bind", Source: hostDir, Options: []string{"bind", "nosymfollow"}},
	)
	// The shared rootfs has none of these directories: use a copy.
	root := t.TempDir() + "/rootfs"
	copyRootfs(t, root)
	b.Spec.Root.Path = root
	out := e.mustRun(b)
	for _, want := range []string{"Read-only file system", "ro-write-failed", "ro-readable", "Permission denied", "noexec-failed",
		"ran\n", "symlink-refused", "symlink-followed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(hostDir + "/new"); err == nil {
		t.Error("a write through the read-only bind mount reached the host")
	}
}

// TestMountPropagationOptions: each propagation option shows in the
// optional fields of mountinfo. A second bind of the first mount (through
// its host path under the rootfs, mounts being made before pivot_root)
// joins its peer group, which makes shared and slave observable.
func TestMountPropagationOptions(t *testing.T) {
	e := newEnv(t)
	b, root := writableBundle(t, withMountinfo("true")...)
	src := t.TempDir()
	os.Mkdir(src+"/sub", 0o755)
	for _, d := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		os.Mkdir(root+"/"+d, 0o755)
	}
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/a", Type: "bind", Source: src, Options: []string{"rbind", "shared"}},
		specs.Mount{Destination: "/b", Type: "bind", Source: root + "/a", Options: []string{"bind"}},
		specs.Mount{Destination: "/c", Type: "bind", Source: root + "/a", Options: []string{"bind", "slave"}},
		specs.Mount{Destination: "/d", Type: "bind", Source: root + "/a", Options: []string{"bind", "private"}},
		specs.Mount{Destination: "/e", Type: "bind", Source: src, Options: []string{"bind", "unbindable"}},
		// Recursive forms, on a mount with a submount.
		specs.Mount{Destination: "/f", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/f/sub", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/g", Type: "bind", Source: root + "/f", Options: []string{"rbind", "rshared"}},
		specs.Mount{Destination: "/h", Type: "bind", Source: root + "/g", Options: []string{"rbind", "rslave"}},
		specs.Mount{Destination: "/i", Type: "bind", Source: root + "/g", Options: []string{"rbind", "runbindable"}},
	)
	_, mi := e.containerMounts(b)
	a := mi["/a"].tag("shared")
	if a == "" {
		t.Fatalf("shared: /a has no shared:N: %v", mi["/a"])
	}
	if got := mi["/b"].tag("shared"); got != a {
		t.Errorf("bind of a shared mount: /b shared:%q, want peer group %s", got, a)
	}
	if got := mi["/c"]; got.tag("master") != a || got.tag("shared") != "" {
		t.Errorf("slave: /c optional fields %v, want master:%s only", got.optional, a)
	}
	if got := mi["/d"]; len(got.optional) != 0 {
		t.Errorf("private: /d optional fields %v, want none", got.optional)
	}
	if got := mi["/e"]; got.tag("unbindable") == "" {
		t.Errorf("unbindable: /e optional fields %v", got.optional)
	}
	g, gsub := mi["/g"].tag("shared"), mi["/g/sub"].tag("shared")
	if g == "" || gsub == "" {
		t.Errorf("rshared: /g %v, /g/sub %v: want both shared", mi["/g"].optional, mi["/g/sub"].optional)
	}
	if mi["/h"].tag("master") != g || mi["/h/sub"].tag("master") != gsub || mi["/h/sub"].tag("shared") != "" {
		t.Errorf("rslave: /h %v, /h/sub %v: want master:%s and master:%s", mi["/h"].optional, mi["/h/sub"].optional, g, gsub)
	}
	if mi["/i"].tag("unbindable") == "" || mi["/i/sub"].tag("unbindable") == "" {
		t.Errorf("runbindable: /i %v, /i/sub %v", mi["/i"].optional, mi["/i/sub"].optional)
	}
}

// TestRootfsPropagation: linux.rootfsPropagation applies to the root.
func TestRootfsPropagation(t *testing.T) {
	e := newEnv(t)
	src := t.TempDir()
	for prop, tag := range map[string]string{"rshared": "shared", "unbindable": "unbindable", "private": "", "rprivate": "", "rslave": ""} {
		t.Run(prop, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			b := newBundle(t, withMountinfo("true")...)
			b.Spec.Linux.RootfsPropagation = prop
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "bind", Source: src, Options: []string{"bind", "shared"}})
			_, mi := e.containerMounts(b)
			got := mi["/"]
			if tag == "" && len(got.optional) != 0 || tag != "" && got.tag(tag) == "" {
				t.Errorf("rootfsPropagation %s: / has optional fields %v", prop, got.optional)
			}
			// The root's propagation does not undo a mount's own, except
			// rslave, which makes every mount a slave (as with runc).
			if tmp := mi["/tmp"]; prop != "rslave" && tmp.tag("shared") == "" {
				t.Errorf("rootfsPropagation %s: the shared mount /tmp has optional fields %v", prop, tmp.optional)
			}
		})
	}
}

// TestRecursiveMountAttrs: rro, rnosuid, rnodev, rnoexec, rnosymfollow,
// rnodiratime and the recursive atime options reach the submounts of an
// rbind, which the plain options do not.
func TestRecursiveMountAttrs(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		opt, want string
		absent    []string
	}{
		{"rro", "ro", nil},
		{"rnosuid", "nosuid", nil},
		{"rnodev", "nodev", nil},
		{"rnoexec", "noexec", nil},
		{"rnosymfollow", "nosymfollow", nil},
		{"rnodiratime", "nodiratime", nil},
		{"rnoatime", "noatime", []string{"relatime"}},
		{"rstrictatime", "", []string{"relatime", "noatime"}},
		{"rrelatime", "relatime", []string{"noatime"}},
	}
	for _, c := range cases {
		t.Run(c.opt, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			b, _ := writableBundle(t, withMountinfo("touch /r/sub/x 2>&1; true")...)
			// Submount with noatime so that rstrictatime/rrelatime have
			// something to change.
			b.Spec.Mounts = append(b.Spec.Mounts,
				specs.Mount{Destination: "/src", Type: "tmpfs", Source: "tmpfs"},
				specs.Mount{Destination: "/src/sub", Type: "tmpfs", Source: "tmpfs", Options: []string{"noatime"}},
				specs.Mount{Destination: "/r", Type: "bind", Source: b.Spec.Root.Path + "/src", Options: []string{"rbind", c.opt}},
				// The plain option stops at the top mount.
				specs.Mount{Destination: "/plain", Type: "bind", Source: b.Spec.Root.Path + "/src", Options: []string{"rbind", strings.TrimPrefix(c.opt, "r")}},
			)
			out, mi := e.containerMounts(b)
			for _, p := range []string{"/r", "/r/sub"} {
				got := mi[p]
				if c.want != "" && !got.has(c.want) {
					t.Errorf("%s: %s options %v lack %q", c.opt, p, got.opts, c.want)
				}
				for _, a := range c.absent {
					if got.has(a) {
						t.Errorf("%s: %s options %v have %q", c.opt, p, got.opts, a)
					}
				}
			}
			if c.opt == "rro" && !strings.Contains(out, "Read-only file system") {
				t.Errorf("rro: write to the submount did not fail: %q", out)
			}
			if c.want != "" && c.want != "noatime" && c.want != "relatime" && mi["/plain/sub"].has(c.want) {
				t.Errorf("plain %s reached the submount: %v", c.want, mi["/plain/sub"].opts)
			}
		})
	}
}

// TestTmpfsSizeModeAndRelativeDestination: tmpfs size= and mode= reach the
// superblock and the mount point; a relative destination (spec 1.2) is
// taken from the container's /.
func TestTmpfsSizeModeAndRelativeDestination(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, withMountinfo("stat -c '%a %U' /tmp; stat -c '%a' /mnt")...)
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=2m", "mode=1750", "uid=1000"}},
	)
	b.Spec.Root.Path, b.Spec.Root.Readonly = t.TempDir()+"/rootfs", false
	copyRootfs(t, b.Spec.Root.Path)
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "./mnt/../mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=711"}})
	out, mi := e.containerMounts(b)
	got := mi["/tmp"]
	if got.fstype != "tmpfs" || !slices.Contains(got.super, "size=2048k") || !slices.Contains(got.super, "mode=1750") || !slices.Contains(got.super, "uid=1000") {
		t.Errorf("/tmp: %+v, want tmpfs with size=2048k,mode=1750,uid=1000", got)
	}
	if out != "1750 user\n711\n" {
		t.Errorf("mount points: %q, want 1750 user and 711", out)
	}
	if mi["/mnt"].fstype != "tmpfs" {
		t.Errorf("relative destination ./mnt/../mnt not mounted at /mnt: %v", mi)
	}
}

// TestMountOverSymlinkResolvedInside: a destination whose path goes
// through a symlink of the rootfs lands where the link points inside the
// container.
func TestMountOverSymlinkResolvedInside(t *testing.T) {
	e := newEnv(t)
	b, root := writableBundle(t, withMountinfo("cat /real/data/hello")...)
	os.MkdirAll(root+"/real/data", 0o755)
	os.Symlink("/real", root+"/abs")
	os.Symlink("real", root+"/rel")
	hostDir := t.TempDir()
	os.WriteFile(hostDir+"/hello", []byte("hi\n"), 0o644)
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/abs/data", Type: "bind", Source: hostDir, Options: []string{"bind"}},
		specs.Mount{Destination: "/rel/t", Type: "tmpfs", Source: "tmpfs"},
	)
	out, mi := e.containerMounts(b)
	if out != "hi\n" {
		t.Errorf("bind through an absolute symlink: %q", out)
	}
	if _, ok := mi["/real/t"]; !ok {
		t.Errorf("tmpfs through a relative symlink not at /real/t: %v", mi)
	}
}

// TestTmpcopyup: a tmpfs with tmpcopyup over a directory keeps its files
// (with their modes and owners) and is writable.
func TestTmpcopyup(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, withMountinfo("cat /etc/hostname; ls -ln /etc/group | cut -c1-10; grep -c root /etc/passwd; echo new >/etc/new && cat /etc/new; ls -l /etc/sub/x")...)
	b.Spec.Root.Path, b.Spec.Root.Readonly = t.TempDir()+"/rootfs", true
	copyRootfs(t, b.Spec.Root.Path)
	os.MkdirAll(b.Spec.Root.Path+"/etc/sub", 0o700)
	os.WriteFile(b.Spec.Root.Path+"/etc/sub/x", nil, 0o600)
	os.Chown(b.Spec.Root.Path+"/etc/sub/x", 1000, 1000)
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}})
	out, mi := e.containerMounts(b)
	if mi["/etc"].fstype != "tmpfs" {
		t.Fatalf("/etc is not a tmpfs: %+v", mi["/etc"])
	}
	for _, want := range []string{"kan-test\n", "-rw-r--r--\n", "1\n", "new\n", "-rw-------    1 user     user"} {
		if !strings.Contains(out, want) {
			t.Errorf("tmpcopyup: output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(b.Spec.Root.Path + "/etc/new"); err == nil {
		t.Error("the write went to the rootfs, not the tmpfs")
	}
}

// TestIDMappedMounts: a host file owned by uid 1000, seen from a container
// whose user namespace maps 0 to host 100000: without idmap it is the
// overflow id; with idmap (the container's maps) it is 1000; with a mount
// of its own mappings, the mapping applies.
func TestIDMappedMounts(t *testing.T) {
	e := newEnv(t)
	src := t.TempDir()
	skipUnlessIdmappable(t, src)
	// Container root is host uid 100000: it must reach the directory.
	os.Chmod(src, 0o777)
	os.Chmod(filepath.Dir(src), 0o755)
	os.WriteFile(src+"/f", nil, 0o644)
	os.Chown(src+"/f", 1000, 1000)
	os.Mkdir(src+"/sub", 0o755)
	// A submount, for ridmap: a tmpfs can be idmapped too (kernel 6.3+).
	script := "stat -c '%u:%g' /tmp/f /etc/f /home/f /root/f; touch /tmp/w 2>&1; stat -c '%u' /tmp/w 2>&1; true"
	b := newBundle(t, "sh", "-c", script)
	withUserNS(b.Spec)
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/tmp", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
		specs.Mount{Destination: "/etc", Type: "bind", Source: src, Options: []string{"bind"}},
		specs.Mount{Destination: "/home", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"}},
		// The mount maps on-disk id 1000 to 100005 (uid) and 100006
		// (gid), which the container's namespace shows as 5 and 6.
		specs.Mount{Destination: "/root", Type: "bind", Source: src, Options: []string{"bind"},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 100005, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 1000, HostID: 100006, Size: 1}}},
	)
	out := e.mustRun(b)
	lines := strings.Split(out, "\n")
	want := []string{"1000:1000", "65534:65534", "1000:1000", "5:6"}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Errorf("line %d of %q: want %s (idmap, plain, ridmap, own mappings)", i, out, w)
		}
	}
	// Container root writes through the idmapped mount as host uid 0.
	if !strings.HasSuffix(out, "0\n") {
		t.Errorf("write through the idmapped mount: %q", out)
	}
	var st = statUID(t, src+"/w")
	if st != 0 {
		t.Errorf("file created by container root through idmap owned by host uid %d, want 0", st)
	}
}

func statUID(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// TestMountBadInput: one bad case per mount option group, each a clear
// error naming the mount and nothing left behind.
func TestMountBadInput(t *testing.T) {
	e := newEnv(t)
	src := t.TempDir()
	user := func(s *specs.Spec) { withUserNS(s) }
	cases := []struct {
		name  string
		mount specs.Mount
		edit  func(*specs.Spec)
		want  string
	}{
		{"bad tmpfs option", specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=lots"}}, nil, "mounts[7] (tmpfs on /tmp)"},
		{"unknown fs type", specs.Mount{Destination: "/tmp", Type: "nosuchfs", Source: "x"}, nil, "mounts[7] (nosuchfs on /tmp)"},
		{"missing bind source", specs.Mount{Destination: "/tmp", Type: "bind", Source: "/nonexistent/src", Options: []string{"bind"}}, nil, "/nonexistent/src"},
		{"destination escapes", specs.Mount{Destination: "../../etc", Type: "tmpfs", Source: "tmpfs"}, nil, "mounts[7].destination"},
		{"idmap on tmpfs", specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"}}, user, "mounts[7]"},
		{"idmap without user namespace", specs.Mount{Destination: "/tmp", Type: "bind", Source: src, Options: []string{"bind", "idmap"}}, nil, "mounts[7].options"},
		{"only uidMappings", specs.Mount{Destination: "/tmp", Type: "bind", Source: src, Options: []string{"bind"},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 10}}}, user, "mounts[7]"},
		{"overlapping mount mappings", specs.Mount{Destination: "/tmp", Type: "bind", Source: src, Options: []string{"bind"},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 10}, {ContainerID: 5, HostID: 200000, Size: 10}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 10}}}, user, "mounts[7].uidMappings[1]"},
		{"tmpcopyup on a bind", specs.Mount{Destination: "/tmp", Type: "bind", Source: src, Options: []string{"bind", "tmpcopyup"}}, nil, "mounts[7].options: tmpcopyup"},
	}
	before := hostMounts(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, root: e.root}
			b := newBundle(t, "true")
			if len(b.Spec.Mounts) != 7 {
				t.Fatalf("the default config has %d mounts, the cases assume 7", len(b.Spec.Mounts))
			}
			b.Spec.Mounts = append(b.Spec.Mounts, c.mount)
			if c.edit != nil {
				c.edit(b.Spec)
			}
			id := newID(t)
			r := e.fails(c.want, "create", "--bundle", b.write(t), id)
			e.assertGone(id)
			if strings.Contains(c.name, "idmap") && !strings.Contains(r.stderr, "idmap") {
				t.Errorf("error does not say idmap: %v", r)
			}
		})
	}
	if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
		t.Fatal("host mount table changed:\n" + strings.Join(diff, "\n"))
	}
	if entries, _ := os.ReadDir(e.root); len(entries) > 1 {
		t.Errorf("state root not clean: %v", entries)
	}
}

// TestRidmapReachesSubmounts: with ridmap an rbind's submounts are
// idmapped too; with idmap only the top mount is. The submount is a tmpfs
// on the source, made in a private mount namespace kan runs in, so the
// host's mount table is untouched.
func TestRidmapReachesSubmounts(t *testing.T) {
	e := newEnv(t)
	src := t.TempDir()
	skipUnlessIdmappable(t, src)
	skipUnlessTmpfsIdmappable(t) // the submount
	os.Chmod(src, 0o755)
	os.Chmod(filepath.Dir(src), 0o755)
	os.Mkdir(src+"/sub", 0o755)
	os.WriteFile(src+"/f", nil, 0o644)
	os.Chown(src+"/f", 1000, 1000)
	b := newBundle(t, "stat", "-c", "%u", "/tmp/f", "/tmp/sub/g", "/home/f", "/home/sub/g")
	withUserNS(b.Spec)
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/tmp", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}},
		specs.Mount{Destination: "/home", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"}},
	)
	before := hostMounts(t)
	script := `mount -t tmpfs -o mode=755 tmpfs "$SRC/sub" && touch "$SRC/sub/g" && chown 1000:1000 "$SRC/sub/g" && exec "$0" "$@"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, kanBin, "--root", e.root,
		"run", "--bundle", b.write(t), newID(t))
	cmd.Env = append(os.Environ(), "SRC="+src)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run in a private mount namespace: %v %s", err, out)
	}
	// idmap: f mapped, the submount's g not (overflow id); ridmap: both.
	if string(out) != "1000\n65534\n1000\n1000\n" {
		t.Errorf("owners of /tmp/f /tmp/sub/g /home/f /home/sub/g: %q, want 1000 65534 1000 1000", out)
	}
	if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
		t.Error("host mount table changed:\n" + strings.Join(diff, "\n"))
	}
}

// TestBindFileAndRelativeSource: a file can be bind-mounted (read-only
// here: writes fail with EROFS), and a relative bind source is taken from
// the bundle directory.
func TestBindFileAndRelativeSource(t *testing.T) {
	e := newEnv(t)
	hostFile := filepath.Join(t.TempDir(), "conf")
	os.WriteFile(hostFile, []byte("host conf\n"), 0o644)
	b := newBundle(t, "sh", "-c", "cat /etc/hostname; (echo x >/etc/hostname) 2>&1; cat /root/in-bundle")
	os.Mkdir(filepath.Join(b.dir, "data"), 0o755)
	os.WriteFile(filepath.Join(b.dir, "data", "in-bundle"), []byte("from the bundle\n"), 0o644)
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/etc/hostname", Type: "bind", Source: hostFile, Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/root", Type: "bind", Source: "data", Options: []string{"rbind"}},
	)
	out := e.mustRun(b)
	for _, want := range []string{"host conf\n", "Read-only file system", "from the bundle\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if data, _ := os.ReadFile(hostFile); string(data) != "host conf\n" {
		t.Errorf("read-only file bind written through: %q", data)
	}
}

// TestReadonlyMountWithMountsUnder: a read-only tmpfs at /dev, and a
// read-only mount that later mounts sit under, run as in runc: what goes
// under them is made first, and the read-only flag applied after. The
// container sees each read-only, the mounts under them in place and
// writable as asked, and its /dev nodes working.
func TestReadonlyMountWithMountsUnder(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) { testReadonlyMountWithMountsUnder(t, k.edit) })
	}
}

func testReadonlyMountWithMountsUnder(t *testing.T, initKind func(*specs.Spec)) {
	e := newEnv(t)
	b, _ := writableBundle(t, withMountinfo(`touch /dev/kan-x 2>/dev/null && echo dev-writable
touch /data/x 2>/dev/null && echo data-writable
touch /data/sub/x && echo sub-writable
echo ok > /dev/null && echo null-ok`)...)
	for i := range b.Spec.Mounts {
		if b.Spec.Mounts[i].Destination == "/dev" {
			b.Spec.Mounts[i].Options = append(b.Spec.Mounts[i].Options, "ro")
		}
	}
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro"}},
		specs.Mount{Destination: "/data/sub", Type: "tmpfs", Source: "tmpfs"})
	initKind(b.Spec)
	out, mounts := e.containerMounts(b)
	if out != "sub-writable\nnull-ok\n" {
		t.Fatalf("container output %q, want only /data/sub writable and /dev/null working", out)
	}
	for _, dest := range []string{"/dev", "/data"} {
		if m, ok := mounts[dest]; !ok || !m.has("ro") {
			t.Errorf("%s: %+v, want a read-only mount", dest, m)
		}
	}
	for _, dest := range []string{"/dev/pts", "/dev/shm", "/dev/mqueue", "/data/sub"} {
		if _, ok := mounts[dest]; !ok {
			t.Errorf("%s is not mounted", dest)
		}
	}
}

// TestUserNSBindSourceUnderPrivateParent: in a user namespace, container
// root is an unprivileged host user, who cannot reach a bind source under
// a root-only (0700) directory. runc opens the sources on the host's side
// and mounts from that; so does kan: a directory (rbind) and a file,
// read by the container's program and by a process exec'd into it.
func TestUserNSBindSourceUnderPrivateParent(t *testing.T) {
	e := newEnv(t)
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(private+"/data", 0o755)
	os.WriteFile(private+"/data/f", []byte("dir-from-host\n"), 0o644)
	os.WriteFile(private+"/file", []byte("file-from-host\n"), 0o644)
	b := newBundle(t, "sh", "-c", "cat /tmp/f /etc/hostname; touch /tmp/x 2>&1; sleep 1000")
	withUserNS(b.Spec)
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/tmp", Type: "bind", Source: private + "/data", Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/etc/hostname", Type: "bind", Source: private + "/file", Options: []string{"bind"}})
	id := e.running(b)
	r := e.must("exec", id, "cat", "/tmp/f", "/etc/hostname")
	if r.stdout != "dir-from-host\nfile-from-host\n" {
		t.Fatalf("exec sees %q", r.stdout)
	}
	// The read-only option still holds on the mount kan made.
	if r := e.kan("exec", id, "touch", "/tmp/y"); r.code == 0 || !strings.Contains(r.stderr, "Read-only") {
		t.Fatalf("the read-only bind was writable: %v", r)
	}
}

// TestUserNSBindKeepsHostLocks: a bind mount of a container with a user
// namespace is copied from the container's own mount namespace, whose
// mounts the kernel locked: root in the container cannot remount
// read-write what the host mounted read-only.
func TestUserNSBindKeepsHostLocks(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "kan-locks", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	os.Mkdir(dir+"/sub", 0o777)
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v %s", err, out)
	}
	b := newBundle(t, "sh", "-c", "mount -o remount,bind,rw /tmp 2>/dev/null && echo remounted; touch /tmp/f 2>/dev/null && echo wrote; echo done")
	withUserNS(b.Spec)
	b.Spec.Process.Capabilities = allCaps()
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "bind", Source: dir + "/sub", Options: []string{"bind"}})
	if out := e.mustRun(b); out != "done\n" {
		t.Fatalf("root in the container changed a read-only host mount: %q", out)
	}
}
