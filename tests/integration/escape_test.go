package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProcfsWriteRedirect (CVE-2025-52881 class): a config that
// bind-mounts something over the procfs files kan writes while it sets up
// the container (a sysctl, oom_score_adj) must not make kan write
// somewhere else. Each case either fails or leaves the decoy untouched.
func TestProcfsWriteRedirect(t *testing.T) {
	e := newEnv(t)
	// The default config has a network namespace of its own.
	netns := func(s *specs.Spec) {}
	// A host process whose oom_score_adj must not change: the real
	// procfs file of another process bind-mounted over the init's own
	// (passes a plain fstatfs check).
	victim := exec.Command("sleep", "1000")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { victim.Process.Kill(); victim.Wait() }()
	victimOOM := fmt.Sprintf("/proc/%d/oom_score_adj", victim.Process.Pid)
	oomBefore, _ := os.ReadFile(victimOOM)

	cases := []struct {
		name   string
		decoy  func(t *testing.T) (src, check string) // bind source, file to check afterwards
		dest   string
		config func(s *specs.Spec)
	}{
		{"host dir over /proc/sys/net (sysctl)", func(t *testing.T) (string, string) {
			d := t.TempDir()
			os.MkdirAll(d+"/ipv4", 0o755)
			os.WriteFile(d+"/ipv4/ip_forward", []byte("decoy"), 0o644)
			return d, d + "/ipv4/ip_forward"
		}, "/proc/sys/net", func(s *specs.Spec) {
			netns(s)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}},
		{"host file over the sysctl itself", func(t *testing.T) (string, string) {
			f := filepath.Join(t.TempDir(), "decoy")
			os.WriteFile(f, []byte("decoy"), 0o644)
			return f, f
		}, "/proc/sys/net/ipv4/ip_forward", func(s *specs.Spec) {
			netns(s)
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}},
		{"host file over /proc/self/oom_score_adj", func(t *testing.T) (string, string) {
			f := filepath.Join(t.TempDir(), "decoy")
			os.WriteFile(f, []byte("decoy"), 0o644)
			return f, f
		}, "/proc/self/oom_score_adj", func(s *specs.Spec) {
			v := 500
			s.Process.OOMScoreAdj = &v
		}},
		{"another process's procfs file over /proc/1/oom_score_adj", func(t *testing.T) (string, string) {
			return victimOOM, ""
		}, "/proc/1/oom_score_adj", func(s *specs.Spec) {
			v := 500
			s.Process.OOMScoreAdj = &v
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, check := c.decoy(t)
			b := newBundle(t, "cat", "/proc/self/oom_score_adj")
			c.config(b.Spec)
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: c.dest, Type: "bind", Source: src, Options: []string{"bind"}})
			mounts := hostMounts(t)
			r := e.run(b)
			t.Logf("kan run: %v", r) // refused or run: both fine, if nothing was redirected
			if check != "" {
				if data, _ := os.ReadFile(check); string(data) != "decoy" {
					t.Fatalf("kan's procfs write landed in the decoy: %q", data)
				}
			}
			if data, _ := os.ReadFile(victimOOM); string(data) != string(oomBefore) {
				t.Fatalf("another process's oom_score_adj changed: %q -> %q", oomBefore, data)
			}
			if diff := mountDiff(mounts, hostMounts(t)); len(diff) > 0 {
				t.Fatalf("host mount table changed: %v", diff)
			}
		})
	}
}

// TestMaskedPathsWithHostileDevNull (CVE-2025-31133 class): a rootfs whose
// /dev/null is a symlink (to a sensitive procfs file or to a file of the
// rootfs) or a regular file. kan masks files by bind-mounting /dev/null;
// it must either mask with the real null device or refuse, never bind the
// symlink's target.
func TestMaskedPathsWithHostileDevNull(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name   string
		setup  func(root string) error
		userns bool
	}{
		{"symlink to core_pattern", func(root string) error { return os.Symlink("/proc/sys/kernel/core_pattern", root+"/dev/null") }, false},
		{"symlink to a rootfs file", func(root string) error { return os.Symlink("/secret", root+"/dev/null") }, false},
		{"regular file", func(root string) error { return os.WriteFile(root+"/dev/null", []byte("not null"), 0o666) }, false},
		{"symlink to core_pattern, user namespace", func(root string) error { return os.Symlink("/proc/sys/kernel/core_pattern", root+"/dev/null") }, true},
		{"symlink to a rootfs file, user namespace", func(root string) error { return os.Symlink("/secret", root+"/dev/null") }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			// reachable by the user namespace's root
			os.Chmod(tmp, 0o755)
			os.Chmod(filepath.Dir(tmp), 0o755)
			root := tmp + "/rootfs"
			copyRootfs(t, root)
			os.MkdirAll(root+"/dev", 0o755)
			os.Remove(root + "/dev/null")
			if err := c.setup(root); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(root+"/secret", []byte("secret"), 0o644)
			os.WriteFile(root+"/masked", []byte("must be hidden"), 0o644)
			b := newBundle(t, "sh", "-c", "echo -n masked=; cat /masked; echo; echo -n cpuinfo=; head -c 20 /proc/cpuinfo | wc -c; echo -n secret=; cat /secret; echo; ls -l /dev/null | cut -c1")
			b.Spec.Root.Path = root
			// No tmpfs on /dev: the rootfs's own /dev is used.
			var mounts []specs.Mount
			for _, m := range b.Spec.Mounts {
				if m.Destination != "/dev" && !strings.HasPrefix(m.Destination, "/dev/") {
					mounts = append(mounts, m)
				}
			}
			b.Spec.Mounts = mounts
			b.Spec.Linux.MaskedPaths = append(b.Spec.Linux.MaskedPaths, "/masked", "/proc/cpuinfo")
			if c.userns {
				b.Spec.Root.Readonly = false
				exec.Command("chown", "-hR", "100000:100000", root).Run()
				withUserNS(b.Spec)
			}
			hostCore, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
			before := hostMounts(t)
			r := e.run(b)
			t.Logf("kan run: %v", r)
			if r.code == 0 {
				// Ran: the masks must be the real null device.
				if !strings.Contains(r.stdout, "masked=\n") || !strings.Contains(r.stdout, "cpuinfo=0\n") || !strings.Contains(r.stdout, "secret=secret\n") {
					t.Fatalf("masking with a hostile /dev/null: %q", r.stdout)
				}
				if !strings.HasSuffix(r.stdout, "c\n") {
					t.Fatalf("/dev/null in the container is not a device: %q", r.stdout)
				}
			} else if !strings.Contains(r.stderr, "/dev/null") {
				t.Fatalf("refused without naming /dev/null: %v", r)
			}
			if data, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(data) != string(hostCore) {
				t.Fatal("host core_pattern changed")
			}
			if data, _ := os.ReadFile(root + "/secret"); string(data) != "secret" {
				t.Fatal("the symlink's target was written")
			}
			if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
				t.Fatalf("host mount table changed: %v", diff)
			}
		})
	}
}

// TestConsoleWithHostileDevSymlinks (CVE-2025-52565 class): a terminal
// container whose rootfs has /dev/console, /dev/pts/0 or /dev/ptmx as
// symlinks (and no devpts mount of its own for the pts case). kan must
// bind the real pty over /dev/console or refuse; the symlink targets stay
// untouched.
func TestConsoleWithHostileDevSymlinks(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name    string
		link    string // path in the rootfs made a symlink to /secret
		noDevfs bool   // drop the config's /dev tmpfs: the rootfs's /dev is used
	}{
		{"console symlink", "/dev/console", true},
		{"console symlink with tmpfs /dev", "/dev/console", false},
		{"pts/0 symlink under the devpts mount", "/dev/pts/0", true},
		{"ptmx symlink", "/dev/ptmx", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir() + "/rootfs"
			copyRootfs(t, root)
			os.MkdirAll(filepath.Dir(root+c.link), 0o755)
			os.Remove(root + c.link)
			os.WriteFile(root+"/secret", []byte("secret"), 0o644)
			if err := os.Symlink("/secret", root+c.link); err != nil {
				t.Fatal(err)
			}
			l := listenConsole(t)
			b := newBundle(t, "sh", "-c", "ls -l /dev/console | cut -c1; cat /secret; echo; echo done")
			b.Spec.Root.Path = root
			b.Spec.Process.Terminal = true
			if c.noDevfs {
				var mounts []specs.Mount
				for _, m := range b.Spec.Mounts {
					if m.Destination != "/dev" {
						mounts = append(mounts, m)
					}
				}
				b.Spec.Mounts = mounts
			}
			before := hostMounts(t)
			id := newID(t)
			r := e.kan("run", "--console-socket", l.path, "--bundle", b.write(t), id)
			t.Logf("kan run: %v", r)
			if r.code != 0 && !strings.Contains(r.stderr, "/dev/") {
				t.Fatalf("refused without naming the device: %v", r)
			}
			if r.code == 0 {
				out := strings.ReplaceAll(l.output(t), "\r", "")
				if !strings.HasPrefix(out, "c\n") || !strings.Contains(out, "secret\ndone") {
					t.Fatalf("terminal output: %q", out)
				}
			}
			if data, _ := os.ReadFile(root + "/secret"); string(data) != "secret" {
				t.Fatal("the symlink's target was written")
			}
			if fi, err := os.Lstat(root + "/secret"); err != nil || !fi.Mode().IsRegular() {
				t.Fatal("the symlink's target was replaced")
			}
			e.assertGone(id)
			if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
				t.Fatalf("host mount table changed: %v", diff)
			}
		})
	}
}

// TestConsoleWithFakeProcSelfFd: an image whose /proc/self/fd/N are
// links to its own files, where no procfs is mounted at /proc (or where a
// volume covers it). kan must not bind the pty through those paths: that
// would bind one file of the image's choice onto another, as root, before
// the masked and read-only paths are applied. runc refuses ("/proc/self/fd
// is not on procfs"); kan binds by fd, never through /proc. Under both
// inits (the Go init needs a /proc/self/status, which the volume fakes).
func TestConsoleWithFakeProcSelfFd(t *testing.T) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range initKinds {
		for _, covered := range []bool{false, true} {
			if k.goRuntime && !covered {
				continue // the Go init needs a /proc/self/status
			}
			name := map[bool]string{false: "no procfs", true: "procfs covered"}[covered]
			t.Run(k.name+" "+name, func(t *testing.T) {
				e := newEnv(t)
				root := t.TempDir() + "/rootfs"
				copyRootfs(t, root)
				fake := root + "/proc" // the image's own /proc
				if covered {
					fake = t.TempDir() // the volume over the procfs
				}
				os.MkdirAll(fake+"/self/fd", 0o755)
				os.WriteFile(fake+"/self/status", status, 0o644)
				os.MkdirAll(root+"/evil", 0o755)
				for fd := range 64 {
					n := strconv.Itoa(fd)
					os.WriteFile(root+"/evil/"+n, []byte(n), 0o644)
					if err := os.Symlink("/evil/"+n, fake+"/self/fd/"+n); err != nil {
						t.Fatal(err)
					}
				}
				l := listenConsole(t)
				b := newBundle(t, "sh", "-c", `ls -l /dev/console | cut -c1; for f in /evil/*; do [ "$(cat $f)" = "${f##*/}" ] || echo bound-over $f; done; echo done`)
				k.edit(b.Spec)
				b.Spec.Root.Path = root
				b.Spec.Process.Terminal = true
				var mounts []specs.Mount
				for _, m := range b.Spec.Mounts {
					if m.Destination != "/proc" || covered {
						mounts = append(mounts, m)
					}
				}
				if covered {
					mounts = append(mounts, specs.Mount{Destination: "/proc", Type: "bind", Source: fake, Options: []string{"rbind"}})
				}
				b.Spec.Mounts = mounts
				id := newID(t)
				r := e.kan("run", "--console-socket", l.path, "--bundle", b.write(t), id)
				if r.code != 0 {
					t.Fatalf("run: %v", r)
				}
				out := strings.ReplaceAll(l.output(t), "\r", "")
				if !strings.HasPrefix(out, "c\n") || strings.Contains(out, "bound-over") || !strings.Contains(out, "done") {
					t.Fatalf("the pty was bound through the image's /proc/self/fd links: %q", out)
				}
				e.assertGone(id)
			})
		}
	}
}

// TestExecCwdCannotEscape: the CVE-2024-21626 trick through kan exec: a
// cwd of /proc/self/fd/N for every N kan might have left open.
func TestExecCwdCannotEscape(t *testing.T) {
	e := newEnv(t)
	id := e.running(sleeper(t))
	for fd := 3; fd < 16; fd++ {
		cwd := "/proc/self/fd/" + strconv.Itoa(fd)
		r := e.kan("exec", "--cwd", cwd, id, "sh", "-c", "pwd; ls ../../../../ | tr '\\n' ' '")
		if r.code == 0 && (strings.Contains(r.stdout, "work") || strings.Contains(r.stdout, "usr")) {
			t.Fatalf("exec --cwd %s reached the host: %v", cwd, r)
		}
	}
	// The process JSON route too.
	p := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(p, []byte(`{"args":["sh","-c","pwd; ls ../../../../"],"cwd":"/proc/self/fd/7","user":{"uid":0,"gid":0},"env":["PATH=/bin"]}`), 0o644)
	if r := e.kan("exec", "--process", p, id); r.code == 0 && strings.Contains(r.stdout, "work") {
		t.Fatalf("exec --process with a /proc/self/fd cwd reached the host: %v", r)
	}
}
