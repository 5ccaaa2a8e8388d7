package integration

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestInitBinaryNotWritable: while a container is created, its init runs
// kan's code. The file it runs must not be the host's kan binary, and must
// not be writable (CVE-2019-5736).
func TestInitBinaryNotWritable(t *testing.T) {
	e := newEnv(t)
	before := fileSum(t, kanBin)
	id := e.create(newBundle(t, "sleep", "1000"))
	pid := int(e.state(id)["pid"].(float64))
	exe := fmt.Sprintf("/proc/%d/exe", pid)

	var host, init syscall.Stat_t
	if err := syscall.Stat(kanBin, &host); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(exe, &init); err != nil {
		t.Fatal(err)
	}
	if host.Dev == init.Dev && host.Ino == init.Ino {
		t.Fatal("kan init runs the host's kan binary itself")
	}
	f, err := os.OpenFile(exe, os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatal("the init's executable can be opened for writing")
	}
	if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EPERM) {
		t.Fatalf("open init's executable for writing: %v, want EROFS or EPERM (not just ETXTBSY)", err)
	}
	e.must("start", id)
	if fileSum(t, kanBin) != before {
		t.Fatal("host kan binary changed")
	}
}

// TestProcSelfExeScriptAttack runs a container program that is a script
// with #!/proc/self/exe as interpreter — the CVE-2019-5736 entry point —
// plus a process that then tries to write through every /proc/*/exe it can
// reach. The host binary must stay the same.
func TestProcSelfExeScriptAttack(t *testing.T) {
	e := newEnv(t)
	root := t.TempDir() + "/rootfs"
	copyRootfs(t, root)
	os.WriteFile(root+"/evil", []byte("#!/proc/self/exe\n"), 0o755)
	os.WriteFile(root+"/attack.sh", []byte(`
/evil >/dev/null 2>&1 &
for i in 1 2 3 4 5 6 7 8 9 10; do
  for p in /proc/[0-9]*; do
    echo pwned 2>/dev/null >>$p/exe && echo "WROTE $p"
  done
done
wait
echo attack-done
`), 0o755)
	before := fileSum(t, kanBin)
	b := newBundle(t, "sh", "/attack.sh")
	b.Spec.Root.Path = root
	b.Spec.Root.Readonly = false
	b.Spec.Process.Capabilities = allCaps()
	out := e.mustRun(b)
	if strings.Contains(out, "WROTE") || !strings.Contains(out, "attack-done") {
		t.Fatalf("attack output: %q", out)
	}
	if fileSum(t, kanBin) != before {
		t.Fatal("host kan binary changed")
	}
}

func allCaps() *specs.LinuxCapabilities {
	all := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_SYSLOG"}
	return &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
}

// TestNoHostFdsLeak: the container sees only stdio (and the fds passed with
// --preserve-fds), never one of kan's (CVE-2024-21626 class).
func TestNoHostFdsLeak(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '")
	out := e.mustRun(b)
	// ls itself opens one fd (3) for the directory it lists.
	if out != "0 1 2 3 " {
		t.Fatalf("fds in the container: %q, want only stdio and ls's own", out)
	}

	// With --preserve-fds 1 the caller's fd 3 is passed on.
	f, err := os.Open(kanBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b = newBundle(t, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; readlink /proc/self/fd/3")
	id := newID(t)
	r := e.kanIn("", []*os.File{f}, "run", "--preserve-fds", "1", "--bundle", b.write(t), id)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "0 1 2 3 4 ") || strings.Contains(r.stdout, " 5 ") {
		t.Fatalf("--preserve-fds 1: %v", r)
	}
	e.assertGone(id)
}

// TestCwdCannotEscape tries the CVE-2024-21626 trick: a cwd of
// /proc/self/fd/N, hoping N is a directory kan left open on the host. Each
// try must fail or land inside the container.
func TestCwdCannotEscape(t *testing.T) {
	e := newEnv(t)
	for fd := 3; fd < 16; fd++ {
		b := newBundle(t, "sh", "-c", "pwd; ls ../../../../ | tr '\\n' ' '")
		b.Spec.Process.Cwd = "/proc/self/fd/" + strconv.Itoa(fd)
		r := e.run(b)
		if r.code == 0 && (strings.Contains(r.stdout, "work") || strings.Contains(r.stdout, "usr")) {
			t.Fatalf("cwd %s reached the host: %v", b.Spec.Process.Cwd, r)
		}
	}
}

// TestMountThroughSymlinkStaysInside: a mount destination that is a
// symlink in the rootfs pointing at a host path must land inside the
// rootfs.
func TestMountThroughSymlinkStaysInside(t *testing.T) {
	e := newEnv(t)
	root := t.TempDir() + "/rootfs"
	copyRootfs(t, root)
	outside := t.TempDir()
	if err := os.Symlink(outside, root+"/escape"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../"+outside, root+"/escape2"); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, "true")
	b.Spec.Root.Path = root
	b.Spec.Root.Readonly = false
	b.Spec.Mounts = append(b.Spec.Mounts,
		specs.Mount{Destination: "/escape", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/escape2/sub", Type: "tmpfs", Source: "tmpfs"},
	)
	before := hostMounts(t)
	e.run(b)
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Fatalf("mount created things outside the rootfs: %v", entries)
	}
	if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
		t.Fatal("host mount table changed:\n" + strings.Join(diff, "\n"))
	}
}

// TestNoPivotHidesHostProcfs: with --no-pivot the host's /proc and /sys
// stay in the container's mount namespace, under its chroot, and the
// kernel lets a new user namespace mount a fresh procfs when one is fully
// visible there: a container could then read what linux.maskedPaths
// hides. kan detaches them first, as runc does; the mount is refused
// (runc's tests/integration/no_pivot.bats).
func TestNoPivotHidesHostProcfs(t *testing.T) {
	e := newEnv(t)
	for _, args := range [][]string{nil, {"--no-pivot"}} {
		b := newBundle(t, "unshare", "-rmpf", "sh", "-c", "echo in-userns; mount -t proc none /proc && echo mounted")
		c := b.Spec.Process.Capabilities
		// What it takes to map root in a new user namespace and mount.
		more := []string{"CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETFCAP"}
		c.Bounding = append(c.Bounding, more...)
		c.Effective = append(c.Effective, more...)
		c.Permitted = append(c.Permitted, more...)
		r := e.run(b, args...)
		if !strings.Contains(r.stdout, "in-userns") {
			t.Skipf("%v: no user namespace for the container here: %v", args, r)
		}
		if strings.Contains(r.stdout, "mounted") || !strings.Contains(r.stderr, "permission denied") {
			t.Errorf("%v: a user namespace in the container mounted a fresh procfs: %v", args, r)
		}
	}
}
