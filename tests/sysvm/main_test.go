//go:build sysvm

// Package sysvm holds kan's tests that need a host with systemd as PID 1:
// a real root filesystem, pure cgroup v2 under systemd, D-Bus, the
// engines and criu. They run only inside the VM `make sysvmtest` boots
// (README.md); the build tag sysvm keeps them out of go vet and go test on
// the host.
package sysvm

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/spec"
)

var (
	kanBin    string // the binary under test (KAN_BINARY)
	rootfsDir string // busybox rootfs for bundles (KAN_ROOTFS)
)

func TestMain(m *testing.M) {
	kanBin, rootfsDir = os.Getenv("KAN_BINARY"), os.Getenv("KAN_ROOTFS")
	if kanBin == "" || rootfsDir == "" {
		fmt.Println("tests/sysvm: KAN_BINARY and KAN_ROOTFS are unset; these tests run in the systemd test VM: make sysvmtest")
		os.Exit(2)
	}
	if comm, _ := os.ReadFile("/proc/1/comm"); strings.TrimSpace(string(comm)) != "systemd" {
		fmt.Println("tests/sysvm: PID 1 is not systemd; these tests run in the systemd test VM: make sysvmtest")
		os.Exit(2)
	}
	code := m.Run()
	printMatrix()
	os.Exit(code)
}

// run runs a command and returns its combined output, failing the test
// if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestHost: what the issues that need this VM rely on — systemd's system
// bus, a pure cgroup v2 hierarchy with every controller delegated from
// the root, and a criu whose own check passes on the VM's kernel.
func TestHost(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("/sys/fs/cgroup is not a cgroup2 mount (%v)", err)
	}
	controllers, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"cpuset", "cpu", "io", "memory", "pids"} {
		if !strings.Contains(" "+string(controllers)+" ", " "+c+" ") {
			t.Errorf("controller %s missing: %q", c, controllers)
		}
	}
	if _, err := os.Stat("/run/dbus/system_bus_socket"); err != nil {
		t.Errorf("no system bus: %v", err)
	}
	// systemd answers on the bus: a transient scope with a limit.
	out := run(t, "systemd-run", "--scope", "-p", "MemoryMax=64M", "--unit", "kan-sysvm-probe", "cat", "/proc/self/cgroup")
	if !strings.Contains(out, "kan-sysvm-probe.scope") {
		t.Errorf("systemd-run --scope: %q", out)
	}
	if out, err := exec.Command("criu", "check").CombinedOutput(); err != nil {
		t.Errorf("criu check: %v\n%s", err, out)
	}
}

// TestKanRunsOnSystemdHost: kan, with its cgroupfs driver, runs a
// container on a systemd host and leaves nothing behind.
func TestKanRunsOnSystemdHost(t *testing.T) {
	root, bundle := t.TempDir(), t.TempDir()
	s := spec.Default(false, 0, 0)
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", "echo hello from $(hostname); cat /proc/self/cgroup"}
	s.Root.Path = rootfsDir
	s.Root.Readonly = true
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, kanBin, "--root", root, "run", "--bundle", bundle, "sysvm-hello")
	if !strings.Contains(out, "hello from") || !strings.Contains(out, "0::/") {
		t.Fatalf("kan run: %q", out)
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") { // kan's own (.exeseal-empty)
			t.Errorf("state left behind: %s", e.Name())
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/kan/sysvm-hello"); err == nil {
		t.Errorf("cgroup left behind")
	}
}
