//go:build sysvm

package sysvm

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/crashpoint"
	"github.com/kan-runtime/kan/spec"
)

// The systemd cgroup driver (--systemd-cgroup): what systemd and the
// cgroup tree show of a container's transient unit, from create to
// delete, and what each failure leaves (nothing).

// result of a kan command.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// kan runs kan with the state root and env, and returns what it did.
func kan(t *testing.T, root string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(kanBin, append([]string{"--root", root}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	// Files, not pipes: a created container keeps kan's stdio, and a
	// pipe would not end before it does.
	out, errf := tempFile(t), tempFile(t)
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	r := result{readBack(out), readBack(errf), 0}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		t.Fatalf("kan %v: %v", args, err)
	}
	return r
}

func tempFile(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readBack(f *os.File) string {
	data, _ := os.ReadFile(f.Name())
	return string(data)
}

func kanOK(t *testing.T, root string, args ...string) result {
	t.Helper()
	r := kan(t, root, nil, args...)
	if r.code != 0 {
		t.Fatalf("kan %v: %v", args, r)
	}
	return r
}

// bundle writes a bundle running args, edited by edit.
func bundle(t *testing.T, edit func(*specs.Spec), args ...string) string {
	t.Helper()
	dir := t.TempDir()
	s := spec.Default(false, 0, 0)
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Path = rootfsDir
	s.Root.Readonly = true
	if edit != nil {
		edit(s)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func withPath(p string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.CgroupsPath = p }
}

// show is `systemctl show -p PROP --value UNIT`.
func show(t *testing.T, unit, prop string) string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", "-p", prop, "--value", unit).Output()
	if err != nil {
		t.Fatalf("systemctl show %s %s: %v", unit, prop, err)
	}
	return strings.TrimSpace(string(out))
}

// assertNoUnit: systemd has no unit of that name, not even a failed one.
func assertNoUnit(t *testing.T, unit string) {
	t.Helper()
	// A unit systemd is collecting may linger a moment after its stop.
	deadline := time.Now().Add(5 * time.Second)
	for {
		state := show(t, unit, "LoadState") + "/" + show(t, unit, "ActiveState")
		if state == "not-found/inactive" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("unit %s left behind: %s", unit, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func assertGone(t *testing.T, root, id, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, id)); err == nil {
		t.Errorf("state of %s left behind", id)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("cgroup %s left behind", dir)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

var idSeq int

func newID(t *testing.T) string {
	idSeq++
	return fmt.Sprintf("sd%d-%d", os.Getpid(), idSeq)
}

// TestSystemdLifecycle: create with --systemd-cgroup makes the scope
// prefix-name.scope in its slice, with Delegate=yes and the container's
// init alone in its cgroup; every later command works without the flag
// (as the containerd shim calls them) and with it (as CRI-O does); delete
// stops the unit.
func TestSystemdLifecycle(t *testing.T) {
	for _, flagLater := range []bool{false, true} {
		t.Run(fmt.Sprintf("flag-on-later-commands=%v", flagLater), func(t *testing.T) {
			root, id := t.TempDir(), newID(t)
			unit := "kantest-" + id + ".scope"
			dir := "/sys/fs/cgroup/system.slice/" + unit
			g := []string{}
			if flagLater {
				g = []string{"--systemd-cgroup"}
			}
			later := func(args ...string) result { t.Helper(); return kanOK(t, root, append(g, args...)...) }
			b := bundle(t, withPath("system.slice:kantest:"+id), "sleep", "999")
			kanOK(t, root, "--systemd-cgroup", "create", "--bundle", b, id)
			t.Cleanup(func() { kan(t, root, nil, "delete", "--force", id) })
			for prop, want := range map[string]string{"ActiveState": "active", "Delegate": "yes", "Slice": "system.slice", "ControlGroup": "/system.slice/" + unit} {
				if got := show(t, unit, prop); got != want {
					t.Errorf("%s %s = %q, want %q", unit, prop, got, want)
				}
			}
			var st struct {
				Pid    int    `json:"pid"`
				Status string `json:"status"`
			}
			json.Unmarshal([]byte(later("state", id).stdout), &st)
			if st.Status != "created" {
				t.Fatalf("state: %+v", st)
			}
			// The init alone: the scope's first process (the holder) is gone.
			if procs := readFile(t, dir+"/cgroup.procs"); procs != strconv.Itoa(st.Pid) {
				t.Errorf("cgroup.procs of %s = %q, want the init %d alone", unit, procs, st.Pid)
			}
			if cg := readFile(t, fmt.Sprintf("/proc/%d/cgroup", st.Pid)); cg != "0::/system.slice/"+unit {
				t.Errorf("the init's /proc/pid/cgroup (host view) = %q", cg)
			}
			later("start", id)
			ps := later("ps", "--format", "json", id).stdout
			if strings.TrimSpace(ps) != "["+strconv.Itoa(st.Pid)+"]" {
				t.Errorf("ps: %q, want [%d]", ps, st.Pid)
			}
			later("pause", id)
			if f := readFile(t, dir+"/cgroup.freeze"); f != "1" {
				t.Errorf("paused: cgroup.freeze %q", f)
			}
			if !strings.Contains(later("state", id).stdout, `"paused"`) {
				t.Errorf("state after pause is not paused")
			}
			later("resume", id)
			if f := readFile(t, dir+"/cgroup.freeze"); f != "0" {
				t.Errorf("resumed: cgroup.freeze %q", f)
			}
			later("update", "--memory", "64m", "--cpu-quota", "25000", "--cpu-period", "100000", "--pids-limit", "50", id)
			for prop, want := range map[string]string{"MemoryMax": "67108864", "CPUQuotaPerSecUSec": "250ms", "TasksMax": "50"} {
				if got := show(t, unit, prop); got != want {
					t.Errorf("after update: %s = %q, want %q", prop, got, want)
				}
			}
			for file, want := range map[string]string{"memory.max": "67108864", "cpu.max": "25000 100000", "pids.max": "50"} {
				if got := readFile(t, dir+"/"+file); got != want {
					t.Errorf("after update: %s = %q, want %q", file, got, want)
				}
			}
			later("kill", id, "KILL")
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(later("state", id).stdout, `"stopped"`) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			later("delete", id)
			assertNoUnit(t, unit)
			assertGone(t, root, id, dir)
		})
	}
}

// TestSystemdResources: linux.resources reach systemd as the unit's
// properties where systemd has them, and the cgroup's files (those too,
// and the rest: cpu.max.burst, exact quotas).
func TestSystemdResources(t *testing.T) {
	root, id := t.TempDir(), newID(t)
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "kubepods-burstable-pod" + strings.ReplaceAll(id, "-", "_") + ".slice:cri-containerd:" + id
		s.Linux.Resources = &specs.LinuxResources{
			Devices: s.Linux.Resources.Devices, // runc spec's: deny all
			Memory:  &specs.LinuxMemory{Limit: i64(128 << 20), Reservation: i64(16 << 20), Swap: i64(192 << 20)},
			CPU:     &specs.LinuxCPU{Shares: u64(512), Quota: i64(12345), Period: u64(100000), Burst: u64(1000), Cpus: "0", Mems: "0"},
			Pids:    &specs.LinuxPids{Limit: i64(77)},
			BlockIO: &specs.LinuxBlockIO{Weight: func() *uint16 { w := uint16(300); return &w }()},
		}
	}, "sleep", "999")
	kanOK(t, root, "--systemd-cgroup", "run", "-d", "--bundle", b, id)
	t.Cleanup(func() { kan(t, root, nil, "delete", "--force", id) })
	unit := "cri-containerd-" + id + ".scope"
	pod := "kubepods-burstable-pod" + strings.ReplaceAll(id, "-", "_") + ".slice"
	dir := "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/" + pod + "/" + unit
	for prop, want := range map[string]string{
		"Slice": pod, "Delegate": "yes",
		"MemoryMax": "134217728", "MemoryLow": "16777216", "MemorySwapMax": "67108864",
		"CPUWeight": "20", "CPUQuotaPerSecUSec": "130ms", "CPUQuotaPeriodUSec": "100ms",
		"AllowedCPUs": "0", "AllowedMemoryNodes": "0", "TasksMax": "77", "IOWeight": "2930",
		"DevicePolicy": "strict",
	} {
		if got := show(t, unit, prop); got != want {
			t.Errorf("%s = %q, want %q", prop, got, want)
		}
	}
	if got := show(t, unit, "DeviceAllow"); !strings.Contains(got, "/dev/char/1:3 rwm") || !strings.Contains(got, "char-pts rw") {
		t.Errorf("DeviceAllow = %q, want kan's default devices", got)
	}
	for file, want := range map[string]string{
		"memory.max": "134217728", "memory.low": "16777216", "memory.swap.max": "67108864",
		"cpu.weight": "20", "cpu.max": "12345 100000", "cpu.max.burst": "1000",
		"cpuset.cpus": "0", "pids.max": "77", "io.weight": "default 2930",
	} {
		if got := readFile(t, dir+"/"+file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	// The device filter holds: /dev/null yes, a disk no.
	if r := kan(t, root, nil, "exec", id, "sh", "-c", "echo x > /dev/null && mknod /dev/sdx b 8 0 && head -c1 /dev/sdx"); r.code == 0 || !strings.Contains(r.stderr, "not permitted") {
		t.Errorf("a disk read through the device filter: %v", r)
	}
	kanOK(t, root, "delete", "--force", id)
	assertNoUnit(t, unit)
	assertGone(t, root, id, dir)
}

// TestSystemdDefaultPath: an empty cgroupsPath gets kan-<id>.scope in
// system.slice, runc's default with kan's name.
func TestSystemdDefaultPath(t *testing.T) {
	root, id := t.TempDir(), newID(t)
	r := kanOK(t, root, "--systemd-cgroup", "run", "--bundle", bundle(t, nil, "cat", "/proc/self/cgroup"), id)
	// The container's own cgroup namespace is rooted at its scope.
	if strings.TrimSpace(r.stdout) != "0::/" {
		t.Errorf("/proc/self/cgroup inside = %q, want 0::/ (a cgroup namespace rooted at the scope)", r.stdout)
	}
	assertNoUnit(t, "kan-"+id+".scope")
	assertGone(t, root, id, "/sys/fs/cgroup/system.slice/kan-"+id+".scope")
}

// TestSystemdUnitExists: a second container naming the unit of a live
// one is refused (its cgroup is not empty: runc's words, before systemd is
// asked), leaves nothing, and the first is untouched.
func TestSystemdUnitExists(t *testing.T) {
	root, id, id2 := t.TempDir(), newID(t), newID(t)
	p := "system.slice:kantest:shared-" + id
	kanOK(t, root, "--systemd-cgroup", "run", "-d", "--bundle", bundle(t, withPath(p), "sleep", "999"), id)
	t.Cleanup(func() { kan(t, root, nil, "delete", "--force", id) })
	r := kan(t, root, nil, "--systemd-cgroup", "run", "-d", "--bundle", bundle(t, withPath(p), "sleep", "999"), id2)
	if r.code == 0 || !strings.Contains(r.stderr, "kantest-shared-"+id+".scope: container's cgroup is not empty") {
		t.Fatalf("second container on the unit: %v", r)
	}
	if _, err := os.Stat(filepath.Join(root, id2)); err == nil {
		t.Errorf("state of the refused container left behind")
	}
	unit := "kantest-shared-" + id + ".scope"
	if got := show(t, unit, "ActiveState"); got != "active" {
		t.Errorf("the first container's unit: %s", got)
	}
	if !strings.Contains(kanOK(t, root, "state", id).stdout, `"running"`) {
		t.Errorf("the first container is no longer running")
	}
	kanOK(t, root, "delete", "--force", id)
	assertNoUnit(t, unit)
}

// TestSystemdFailedLeftover: a failed unit of the same name (systemd
// keeps an OOM-killed scope, failed, until reset-failed) is reset and the
// container gets the unit, as with runc.
func TestSystemdFailedLeftover(t *testing.T) {
	root, id := t.TempDir(), newID(t)
	unit := "kantest-" + id + ".scope"
	exec.Command("systemd-run", "--quiet", "--scope", "--unit", unit, "-p", "MemoryMax=16M", "-p", "MemorySwapMax=0",
		"sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a)").Run()
	if got := show(t, unit, "ActiveState"); got != "failed" {
		t.Fatalf("the OOM-killed scope %s is %q, want failed", unit, got)
	}
	kanOK(t, root, "--systemd-cgroup", "run", "-d", "--bundle", bundle(t, withPath("system.slice:kantest:"+id), "sleep", "999"), id)
	if got := show(t, unit, "ActiveState"); got != "active" {
		t.Errorf("%s after create: %q, want active", unit, got)
	}
	kanOK(t, root, "delete", "--force", id)
	assertNoUnit(t, unit)
}

// TestSystemdBadPath: a cgroupsPath not of the form, with the flag, and
// systemd's form without it, are refused naming the field.
func TestSystemdBadPath(t *testing.T) {
	root, id := t.TempDir(), newID(t)
	r := kan(t, root, nil, "--systemd-cgroup", "run", "--bundle", bundle(t, withPath("/kan/"+id), "true"), id)
	if r.code == 0 || !strings.Contains(r.stderr, "linux.cgroupsPath") || !strings.Contains(r.stderr, "with --systemd-cgroup it must be") || !strings.Contains(r.stderr, "slice:prefix:name") {
		t.Errorf("cgroupfs path with --systemd-cgroup: %v", r)
	}
	r = kan(t, root, nil, "run", "--bundle", bundle(t, withPath("system.slice:kantest:"+id), "true"), id)
	if r.code == 0 || !strings.Contains(r.stderr, "it needs --systemd-cgroup") {
		t.Errorf("systemd path without --systemd-cgroup: %v", r)
	}
	assertGone(t, root, id, "/sys/fs/cgroup/system.slice/kantest-"+id+".scope")
	assertNoUnit(t, "kantest-"+id+".scope")
}

// TestSystemdOOM: a container killed by the OOM killer of its scope
// (systemd marks such a scope failed) leaves no failed unit after
// delete.
func TestSystemdOOM(t *testing.T) {
	root, id := t.TempDir(), newID(t)
	i64 := func(v int64) *int64 { return &v }
	b := bundle(t, func(s *specs.Spec) {
		s.Linux.CgroupsPath = "system.slice:kantest:" + id
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64(16 << 20), Swap: i64(16 << 20)}
	}, "sh", "-c", "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived")
	r := kan(t, root, nil, "--systemd-cgroup", "run", "--bundle", b, id)
	if r.code != 137 || strings.Contains(r.stdout, "survived") {
		t.Fatalf("a container over its memory limit: %v, want 137 (SIGKILL by the OOM killer)", r)
	}
	assertNoUnit(t, "kantest-"+id+".scope")
	if out, _ := exec.Command("systemctl", "list-units", "--failed", "--no-legend", "kantest-*").Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("failed units left: %s", out)
	}
}

// TestSystemdUnreachable: with the system bus and systemd's private
// socket out of reach (here: neither answers within the bound), create
// fails within KAN_SYSTEMD_TIMEOUT with an error naming --systemd-cgroup,
// and leaves nothing.
func TestSystemdUnreachable(t *testing.T) {
	// dbus-daemon stopped: the system bus accepts connections but never
	// answers, which is what a systemd too slow to answer looks like to
	// kan (kan asks the system bus first, as runc does).
	out, err := exec.Command("systemctl", "show", "-p", "MainPID", "--value", "dbus.service").Output()
	pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 0 {
		t.Fatalf("dbus-daemon's pid: %v %q", err, out)
	}
	root, id := t.TempDir(), newID(t)
	syscall.Kill(pid, syscall.SIGSTOP)
	start := time.Now()
	r := kan(t, root, []string{"KAN_SYSTEMD_TIMEOUT=2s"}, "--systemd-cgroup", "run", "--bundle", bundle(t, withPath("system.slice:kantest:"+id), "true"), id)
	took := time.Since(start)
	syscall.Kill(pid, syscall.SIGCONT)
	if r.code == 0 || !strings.Contains(r.stderr, "--systemd-cgroup") || !strings.Contains(r.stderr, "did not answer") {
		t.Fatalf("create with the bus frozen: %v", r)
	}
	t.Logf("refused after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
	assertGone(t, root, id, "/sys/fs/cgroup/system.slice/kantest-"+id+".scope")
	assertNoUnit(t, "kantest-"+id+".scope")
}

// TestSystemdCrashSafety: kan killed (SIGKILL) at every step of create
// with --systemd-cgroup, then `kan delete --force` without the flag (as
// the containerd shim cleans up) leaves no unit, cgroup, state or process.
func TestSystemdCrashSafety(t *testing.T) {
	points := append(append([]string{}, crashpoint.Points["create"]...), crashpoint.Points["create --systemd-cgroup"]...)
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			root, id := t.TempDir(), newID(t)
			unit := "kantest-" + id + ".scope"
			b := bundle(t, withPath("system.slice:kantest:"+id), "sleep", "999")
			r := kan(t, root, []string{crashpoint.Env + "=" + point}, "--systemd-cgroup", "create", "--bundle", b, id)
			if r.code != 128+int(syscall.SIGKILL) {
				t.Fatalf("kan was not killed at %s: %v", point, r)
			}
			pids := ""
			if data, err := os.ReadFile("/sys/fs/cgroup/system.slice/" + unit + "/cgroup.procs"); err == nil {
				pids = strings.TrimSpace(string(data))
			}
			kanOK(t, root, "delete", "--force", id)
			assertNoUnit(t, unit)
			assertGone(t, root, id, "/sys/fs/cgroup/system.slice/"+unit)
			for _, p := range strings.Fields(pids) {
				pid, _ := strconv.Atoi(p)
				deadline := time.Now().Add(5 * time.Second)
				for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if syscall.Kill(pid, 0) == nil {
					comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
					t.Errorf("process %d (%s) of the unit left", pid, strings.TrimSpace(string(comm)))
				}
			}
		})
	}
}
