//go:build vmtest

// Package vm holds kan's tests that need a pure cgroup v2 hierarchy with
// every controller. They run only inside the test VM that `make vmtest`
// boots (see README.md): the build tag vmtest keeps them out of go vet and
// go test on the host, whose cgroups are hybrid.
//
// Like tests/integration, they drive the real kan binary on busybox
// bundles. The helpers here are meant to be shared by every resource test.
package vm

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/spec"
)

// cgroupRoot is where the VM's /init mounts the cgroup2 hierarchy.
const cgroupRoot = "/sys/fs/cgroup"

var (
	kanBin    string // the binary under test (KAN_BINARY)
	rootfsDir string // busybox rootfs shared by the bundles (KAN_ROOTFS)
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	kanBin, rootfsDir = os.Getenv("KAN_BINARY"), os.Getenv("KAN_ROOTFS")
	if kanBin == "" || rootfsDir == "" {
		fmt.Println("tests/vm: KAN_BINARY and KAN_ROOTFS are unset; these tests run in the cgroup v2 test VM: make vmtest")
		return 2
	}
	if err := checkPureV2(); err != nil {
		fmt.Printf("tests/vm: not in the cgroup v2 test VM (%v); run them with make vmtest\n", err)
		return 2
	}
	return m.Run()
}

// checkPureV2 tells whether this is the test VM: root, cgroup2 mounted at
// /sys/fs/cgroup with controllers, and no cgroup v1 hierarchy anywhere.
func checkPureV2() error {
	if os.Geteuid() != 0 {
		return errors.New("not root")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return err
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s is not a cgroup2 mount", cgroupRoot)
	}
	for _, m := range mounts() {
		if m.fstype == "cgroup" {
			return fmt.Errorf("a cgroup v1 hierarchy is mounted at %s", m.point)
		}
	}
	if !slices.Contains(controllers(cgroupRoot), "memory") {
		return fmt.Errorf("%s has no memory controller", cgroupRoot)
	}
	return nil
}

type mount struct{ point, fstype, options string }

// mounts reads /proc/self/mountinfo: mount point, type and super options.
func mounts() []mount {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var ms []mount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 0 || len(fields) < sep+4 {
			continue
		}
		ms = append(ms, mount{fields[4], fields[sep+1], fields[sep+3]})
	}
	return ms
}

// controllers lists cgroup.controllers of a cgroup directory.
func controllers(dir string) []string {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	return strings.Fields(string(data))
}

var idSeq atomic.Int64

// newID makes a container id from the test's name, unique in this run.
func newID(t *testing.T) string {
	name := strings.NewReplacer("/", "-", "#", "-").Replace(t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("%s-%d", name, idSeq.Add(1))
}

// kanEnv is one test's kan: the binary with a --root of its own.
type kanEnv struct {
	t    *testing.T
	root string
}

func newKan(t *testing.T) *kanEnv {
	return &kanEnv{t: t, root: t.TempDir()}
}

// result of one kan invocation.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// kan runs the binary with --root and args. Output goes to files, not
// pipes: a created container keeps kan's stdio, and a pipe would not reach
// EOF until the container exits.
func (k *kanEnv) kan(args ...string) result {
	k.t.Helper()
	dir := k.t.TempDir()
	stdout, stderr := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	outf, err := os.Create(stdout)
	if err != nil {
		k.t.Fatal(err)
	}
	defer outf.Close()
	errf, err := os.Create(stderr)
	if err != nil {
		k.t.Fatal(err)
	}
	defer errf.Close()
	cmd := exec.Command(kanBin, append([]string{"--root", k.root}, args...)...)
	cmd.Stdout, cmd.Stderr = outf, errf
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			k.t.Fatalf("kan %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	o, _ := os.ReadFile(stdout)
	e, _ := os.ReadFile(stderr)
	return result{string(o), string(e), code}
}

// must runs kan and fails the test unless it exits 0.
func (k *kanEnv) must(args ...string) result {
	k.t.Helper()
	r := k.kan(args...)
	if r.code != 0 {
		k.t.Fatalf("kan %v: %v", args, r)
	}
	return r
}

// state returns `kan state id` decoded.
func (k *kanEnv) state(id string) specs.State {
	k.t.Helper()
	r := k.must("state", id)
	var st specs.State
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		k.t.Fatalf("kan state %s: %v in %q", id, err, r.stdout)
	}
	return st
}

// waitStatus polls until container id has status want.
func (k *kanEnv) waitStatus(id string, want specs.ContainerState) {
	k.t.Helper()
	waitFor(k.t, fmt.Sprintf("%s to be %s", id, want), func() bool {
		return k.state(id).Status == want
	})
}

// bundle is a bundle directory whose config a test changes before
// writing it.
type bundle struct {
	dir  string
	Spec *specs.Spec
}

// newBundle makes a bundle with kan's default config (as `kan spec` writes
// it: device access denied but for the defaults, a cgroup namespace, a
// read-only root) on the shared busybox rootfs, running args without a
// terminal.
func newBundle(t *testing.T, args ...string) *bundle {
	s := spec.Default(false, 0, 0)
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Path = rootfsDir
	return &bundle{dir: t.TempDir(), Spec: s}
}

// write saves config.json and returns the bundle directory.
func (b *bundle) write(t *testing.T) string {
	t.Helper()
	data, err := json.MarshalIndent(b.Spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return b.dir
}

// withoutNamespace drops a namespace from the bundle's config.
func (b *bundle) withoutNamespace(typ specs.LinuxNamespaceType) *bundle {
	b.Spec.Linux.Namespaces = slices.DeleteFunc(b.Spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == typ
	})
	return b
}

// runContainer runs the bundle to completion with `kan run` as container
// id, checks that kan left nothing of it behind, and returns kan's result
// (the container's exit code and output).
func (k *kanEnv) runContainer(b *bundle, id string) result {
	k.t.Helper()
	r := k.kan("run", "--bundle", b.write(k.t), id)
	k.assertGone(id, b.Spec.Linux.CgroupsPath)
	return r
}

// mustRun is runContainer with a new id, requiring exit 0; it returns the
// container's stdout.
func (k *kanEnv) mustRun(b *bundle) string {
	k.t.Helper()
	r := k.runContainer(b, newID(k.t))
	if r.code != 0 {
		k.t.Fatalf("kan run: %v", r)
	}
	return r.stdout
}

// create creates container id from b, and deletes it (forced) when the
// test ends.
func (k *kanEnv) create(b *bundle, id string) {
	k.t.Helper()
	k.must("create", "--bundle", b.write(k.t), id)
	k.t.Cleanup(func() {
		k.kan("delete", "--force", id)
		k.assertGone(id, b.Spec.Linux.CgroupsPath)
	})
}

// cgroupDir is the directory of container id's cgroup, with kan's rule for
// linux.cgroupsPath (only absolute paths and the default /kan/<id> here).
func cgroupDir(cgroupsPath, id string) string {
	if cgroupsPath == "" {
		cgroupsPath = "/kan/" + id
	}
	return filepath.Join(cgroupRoot, cgroupsPath)
}

// assertGone checks that nothing of container id is left: no state
// directory and no cgroup.
func (k *kanEnv) assertGone(id, cgroupsPath string) {
	k.t.Helper()
	if _, err := os.Stat(filepath.Join(k.root, id)); err == nil {
		k.t.Errorf("container %s: state directory left behind", id)
	}
	if dir := cgroupDir(cgroupsPath, id); exists(dir) {
		k.t.Errorf("container %s: cgroup %s left behind", id, dir)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readFile returns a file's content without surrounding space (cgroup
// files end with a newline).
func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// waitFor polls cond for up to 30 seconds (everything is slow under TCG).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
