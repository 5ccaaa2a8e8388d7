// Package integration drives the real kan binary, as root, on busybox
// bundles, and asserts what a user of the runtime would observe.
package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/spec"
)

var (
	kanBin     string // the binary under test
	rootfsDir  string // shared busybox rootfs, built once
	cgroupRoot string // the cgroup2 mount
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	defaultSignalsForChildren()
	kanBin = os.Getenv("KAN_BINARY")
	if kanBin == "" || os.Geteuid() != 0 {
		fmt.Println("integration tests need root and KAN_BINARY=/path/to/kan (make integration)")
		return 1
	}
	tmp, err := os.MkdirTemp("", "kan-it-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// Container root in a user namespace is an unprivileged host uid: it
	// must be able to reach the rootfs.
	os.Chmod(tmp, 0o755)
	if err := checkRootfsPlace(tmp); err != nil {
		fmt.Println(err)
		return 1
	}
	rootfsDir = filepath.Join(tmp, "rootfs")
	if out, err := exec.Command("../mkrootfs.sh", rootfsDir).CombinedOutput(); err != nil {
		fmt.Printf("mkrootfs: %v\n%s", err, out)
		return 1
	}
	userNSRefused = probeUserNS()
	if cgroupRoot, err = cgroups.Mountpoint(); err != nil {
		fmt.Println(err)
		return 1
	}
	defer removeRootlessUser()
	return m.Run()
}

// defaultSignalsForChildren gives the processes this test starts default
// signal dispositions, as tests expect, whatever the runner ignored (nohup
// ignores SIGHUP, a shell's background job SIGINT and SIGQUIT): an
// ignored disposition survives execve, Go leaves an inherited SIG_IGN of
// SIGHUP and SIGINT in place, and children then inherit it. Once Go
// handles a signal it resets it to the default in every child it starts;
// this process still drops the signal, as it was asked to.
func defaultSignalsForChildren() {
	for sig := syscall.Signal(1); sig < 32; sig++ {
		if signal.Ignored(sig) {
			signal.Notify(make(chan os.Signal, 1), sig)
		}
	}
}

// checkRootfsPlace tells why containers could not run from dir (the
// temporary directory the shared rootfs and the bundles are made in): a
// noexec mount, or a parent that a container's unprivileged user (or
// root in a user namespace, a host uid without privileges) cannot search.
func checkRootfsPlace(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	if st.Flags&unix.ST_NOEXEC != 0 {
		return fmt.Errorf("%s is on a noexec mount: containers cannot execute their rootfs there; set TMPDIR to a directory on another filesystem", dir)
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s (mode %v) is not searchable by other users: containers running as a user other than root, or in a user namespace, cannot reach their rootfs under %s; set TMPDIR elsewhere or chmod o+x %s", d, fi.Mode().Perm(), dir, d)
		}
		if d == "/" {
			return nil
		}
	}
}

var idSeq atomic.Int64

// newID makes a container id unique across tests and runs.
func newID(t *testing.T) string {
	name := strings.NewReplacer("/", "-", "#", "-").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("%s-%d-%d", name, os.Getpid(), idSeq.Add(1))
}

// env is one test's kan: its own --root.
type env struct {
	t    *testing.T
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{t: t, root: t.TempDir()}
}

// result of one kan invocation.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// kan runs the binary with --root and args.
func (e *env) kan(args ...string) result {
	e.t.Helper()
	return e.kanIn("", nil, args...)
}

// kanIn runs kan with stdin (may be nil) and extra files for --preserve-fds.
// Output goes to files, not pipes: a created container keeps kan's stdio,
// and a pipe would not reach EOF until the container exits.
func (e *env) kanIn(stdin string, extra []*os.File, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(kanBin, append([]string{"--root", e.root}, args...)...)
	dir := e.t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	cmd.ExtraFiles = extra
	err = cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("kan %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	stdout, _ := os.ReadFile(out.Name())
	stderr, _ := os.ReadFile(errf.Name())
	return result{string(stdout), string(stderr), code}
}

// must runs kan and fails the test unless it exits 0.
func (e *env) must(args ...string) result {
	e.t.Helper()
	r := e.kan(args...)
	if r.code != 0 {
		e.t.Fatalf("kan %v: %v", args, r)
	}
	return r
}

// fails runs kan, expects a non-zero exit and an error mentioning want.
func (e *env) fails(want string, args ...string) result {
	e.t.Helper()
	r := e.kan(args...)
	if r.code == 0 {
		e.t.Fatalf("kan %v succeeded, want an error mentioning %q: %v", args, want, r)
	}
	if !strings.Contains(r.stderr, want) {
		e.t.Fatalf("kan %v: error does not mention %q: %v", args, want, r)
	}
	return r
}

// state returns kan state <id> decoded.
func (e *env) state(id string) map[string]any {
	e.t.Helper()
	r := e.must("state", id)
	var st map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		e.t.Fatalf("state %s: %v in %q", id, err, r.stdout)
	}
	return st
}

func (e *env) status(id string) string {
	e.t.Helper()
	return e.state(id)["status"].(string)
}

// waitStatus polls until the container exists with status want.
func (e *env) waitStatus(id, want string) {
	e.t.Helper()
	got := ""
	waitFor(e.t, "status "+want+" of "+id, func() bool {
		if r := e.kan("state", id); r.code == 0 {
			var st map[string]any
			if json.Unmarshal([]byte(r.stdout), &st) == nil {
				got, _ = st["status"].(string)
			}
		}
		return got == want
	})
}

// bundle is a bundle directory whose config the test may change before
// writing it.
type bundle struct {
	dir  string
	Spec *specs.Spec
}

// newBundle makes a bundle on the shared busybox rootfs (read-only root),
// running args with no terminal.
func newBundle(t *testing.T, args ...string) *bundle {
	t.Helper()
	s := spec.Default(false, 0, 0)
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Path = rootfsDir
	s.Root.Readonly = true
	return &bundle{dir: t.TempDir(), Spec: s}
}

// write saves config.json and returns the bundle directory.
func (b *bundle) write(t *testing.T) string {
	t.Helper()
	skipIfNoUserNS(t, b.Spec)
	data, err := json.MarshalIndent(b.Spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return b.dir
}

// run runs the bundle to completion with `kan run` and returns the result.
func (e *env) run(b *bundle, extraArgs ...string) result {
	e.t.Helper()
	id := newID(e.t)
	args := append([]string{"run", "--bundle", b.write(e.t)}, extraArgs...)
	r := e.kan(append(args, id)...)
	e.assertGone(id)
	return r
}

// mustRun runs the bundle and requires exit 0; it returns stdout.
func (e *env) mustRun(b *bundle, extraArgs ...string) string {
	e.t.Helper()
	r := e.run(b, extraArgs...)
	if r.code != 0 {
		e.t.Fatalf("kan run: %v", r)
	}
	return r.stdout
}

// create creates a container from b and registers its forced deletion.
func (e *env) create(b *bundle, extraArgs ...string) string {
	e.t.Helper()
	id := newID(e.t)
	args := append([]string{"create", "--bundle", b.write(e.t)}, extraArgs...)
	e.must(append(args, id)...)
	e.t.Cleanup(func() {
		e.kan("delete", "--force", id)
		e.assertGone(id)
	})
	return id
}

// assertGone checks that nothing of container id is left: no state
// directory, no cgroup, no process in its cgroup.
func (e *env) assertGone(id string) {
	e.t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); err == nil {
		e.t.Errorf("container %s: state directory left behind", id)
	}
	cg := filepath.Join(cgroupRoot, "kan", id)
	if _, err := os.Stat(cg); err == nil {
		e.t.Errorf("container %s: cgroup %s left behind", id, cg)
	}
}

// otherSuiteMounts is where the engine tests (podman, docker), when they
// run at the same time on a shared development host, mount and unmount
// their containers' storage: not mounts of these tests, so not compared.
const otherSuiteMounts = "/tmp/kan-engines-"

// hostMounts returns the host's mount table, to check that kan leaves it as
// it was.
func hostMounts(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && !strings.HasPrefix(f[4], otherSuiteMounts) {
			lines = append(lines, f[4]+" "+f[len(f)-3]) // mount point and fs type
		}
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// copyRootfs makes a private, writable copy of the shared rootfs.
func copyRootfs(t *testing.T, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", rootfsDir, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v %s", err, out)
	}
}

// waitCatches waits until the container's init has a handler for sig, as
// /proc/<pid>/status shows it (SigCgt), so that a test's signal is not
// sent before the container's trap is set.
func (e *env) waitCatches(id string, sig syscall.Signal) {
	e.t.Helper()
	pid := int(e.state(id)["pid"].(float64))
	waitFor(e.t, fmt.Sprintf("%s to catch signal %d", id, sig), func() bool {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "SigCgt:\t"); ok {
				mask, _ := strconv.ParseUint(v, 16, 64)
				return mask&(1<<(uint(sig)-1)) != 0
			}
		}
		return false
	})
}
