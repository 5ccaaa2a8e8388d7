//go:build sysvm

package sysvm

// Rootless kan in a cgroup systemd delegates to an ordinary user: the
// user lingers (loginctl enable-linger), so its systemd instance
// (user@UID.service, which owns its cgroup subtree with memory and pids
// delegated) runs; kan runs in a scope of that instance (systemd-run
// --user --scope), puts the container's cgroup under the delegated
// subtree with its cgroupfs driver, and the limits hold.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kan-runtime/kan/spec"
	"github.com/kan-runtime/kan/tests/testuser"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// lingeringUser makes an ordinary user whose systemd instance runs, and
// removes it after the test.
func lingeringUser(t *testing.T) *testuser.User {
	t.Helper()
	u, err := testuser.Create(fmt.Sprintf("kanrl%d", os.Getpid()%100000), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(u.RuntimeDir)
	u.RuntimeDir = fmt.Sprintf("/run/user/%d", u.UID)
	t.Cleanup(func() {
		exec.Command("loginctl", "disable-linger", u.Name).Run()
		exec.Command("systemctl", "stop", fmt.Sprintf("user@%d.service", u.UID)).Run()
		u.Remove()
	})
	run(t, "loginctl", "enable-linger", u.Name)
	bus := filepath.Join(u.RuntimeDir, "bus")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(bus); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("user@%d.service did not start: no %s", u.UID, bus)
		}
	}
	return u
}

// inScope runs kan as u in a transient scope of u's systemd instance:
// inside the cgroup subtree systemd delegated to u.
func inScope(t *testing.T, u *testuser.User, args ...string) (string, error) {
	t.Helper()
	cmd := u.Command("systemd-run", append([]string{"--user", "--scope", "--quiet", "--", kanBin}, args...)...)
	cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+u.RuntimeDir+"/bus")
	// A file, not a pipe: a created container keeps kan's stdio, and a
	// pipe would not reach its end while the container lives.
	out, err := os.CreateTemp("", "kan-rl-out-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	data, _ := os.ReadFile(out.Name())
	return string(data), err
}

func mustInScope(t *testing.T, u *testuser.User, args ...string) string {
	t.Helper()
	out, err := inScope(t, u, args...)
	if err != nil {
		t.Fatalf("kan %v as %s in a user scope: %v\n%s", args, u.Name, err, out)
	}
	return out
}

// TestRootlessDelegatedCgroup: kan, as an ordinary user in its delegated
// cgroup, says so in kan features, runs a container with memory and pids
// limits in a cgroup under user@UID.service, and the limits hold: the
// memory hog is OOM-killed at memory.max, forks stop at pids.max. Pause
// and resume work; delete leaves no cgroup.
func TestRootlessDelegatedCgroup(t *testing.T) {
	u := lingeringUser(t)
	service := fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice/user@%d.service", u.UID, u.UID)
	var f struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(mustInScope(t, u, "features")), &f); err != nil {
		t.Fatal(err)
	}
	cg := f.Annotations["io.github.kan-runtime.kan.rootless.cgroup"]
	if !strings.Contains(cg, "delegated "+service) || !strings.Contains(cg, "memory") || !strings.Contains(cg, "pids") {
		t.Fatalf("kan features, rootless cgroup: %q; want %s with memory and pids", cg, service)
	}

	bundle := t.TempDir()
	os.Chmod(filepath.Dir(bundle), 0o755)
	os.Chown(bundle, u.UID, u.GID)
	s := spec.Default(true, uint32(u.UID), uint32(u.GID))
	s.Process.Terminal = false
	s.Root.Path = rootfsDir
	mem, pids := int64(16<<20), int64(12)
	s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, Pids: &specs.LinuxPids{Limit: &pids}}
	write := func(args ...string) {
		s.Process.Args = args
		data, _ := json.Marshal(s)
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The hog raises its own oom_score_adj so that it, not the shell,
	// is the OOM killer's victim.
	// The forks run in a subshell: a failed fork ends the shell that
	// tried it.
	write("sh", "-c", `echo memory.max $(cat /sys/fs/cgroup/memory.max); echo pids.max $(cat /sys/fs/cgroup/pids.max)
(echo 1000 > /proc/self/oom_score_adj; exec awk 'BEGIN { s = "x"; while (1) s = s s }') 2>/dev/null; echo hog $?
echo memory.events $(grep -E '^(max|oom_kill) ' /sys/fs/cgroup/memory.events)
(for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do sleep 5 & done; wait) 2>/dev/null
echo pids.events $(cat /sys/fs/cgroup/pids.events)`)
	out := mustInScope(t, u, "run", "--bundle", bundle, "rl-limits")
	t.Logf("in the container:\n%s", out)
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"memory.max": strconv.FormatInt(mem, 10), "pids.max": "12", "hog": "137",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	// The memory hog hit memory.max and was OOM-killed there; forks
	// hit pids.max.
	var memMax, oomKill, pidsMax int
	fmt.Sscanf(got["memory.events"], "max %d oom_kill %d", &memMax, &oomKill)
	fmt.Sscanf(got["pids.events"], "max %d", &pidsMax)
	if memMax == 0 || oomKill == 0 || pidsMax == 0 {
		t.Fatalf("limits never reached: memory.events %q, pids.events %q", got["memory.events"], got["pids.events"])
	}

	// The lifecycle in the delegated cgroup, pause and resume included.
	write("sleep", "1000")
	mustInScope(t, u, "create", "--bundle", bundle, "rl-life")
	defer inScope(t, u, "delete", "--force", "rl-life")
	var st map[string]any
	json.Unmarshal([]byte(mustInScope(t, u, "state", "rl-life")), &st)
	dir := filepath.Join(service, "kan", "rl-life")
	if procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err != nil || strings.TrimSpace(string(procs)) != fmt.Sprint(st["pid"]) {
		t.Fatalf("the init (%v) is not alone in %s: %q, %v", st["pid"], dir, procs, err)
	}
	mustInScope(t, u, "start", "rl-life")
	mustInScope(t, u, "pause", "rl-life")
	if out := mustInScope(t, u, "state", "rl-life"); !strings.Contains(out, `"paused"`) {
		t.Fatalf("after pause: %s", out)
	}
	mustInScope(t, u, "resume", "rl-life")
	if out := mustInScope(t, u, "exec", "rl-life", "cat", "/proc/self/cgroup"); strings.TrimSpace(out) != "0::/" {
		t.Fatalf("exec's cgroup, seen from the container's cgroup namespace: %q", out)
	}
	mustInScope(t, u, "kill", "rl-life", "KILL")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(mustInScope(t, u, "state", "rl-life"), `"stopped"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the container did not stop after kill KILL")
		}
	}
	mustInScope(t, u, "delete", "rl-life")
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("cgroup %s left behind", dir)
	}
	if _, err := os.Stat(filepath.Join(u.RuntimeDir, "kan", "rl-life")); err == nil {
		t.Fatal("state left behind in $XDG_RUNTIME_DIR/kan")
	}
}

// TestRootlessSystemdCgroup: kan --systemd-cgroup as an ordinary user:
// the container's unit is a scope of the user's own systemd instance
// (session bus), in its user.slice (runc's rootless default), with
// memory.max and pids.max set through the unit's properties and files and
// enforced; update changes both, device rules in it are ignored (as
// runc); pause/resume; delete stops the unit. kan outside the user's
// instance, or without its bus, is refused with a clear error and leaves
// nothing behind.
func TestRootlessSystemdCgroup(t *testing.T) {
	u := lingeringUser(t)
	service := fmt.Sprintf("/sys/fs/cgroup/user.slice/user-%d.slice/user@%d.service", u.UID, u.UID)
	bundle := t.TempDir()
	os.Chmod(filepath.Dir(bundle), 0o755)
	os.Chown(bundle, u.UID, u.GID)
	s := spec.Default(true, uint32(u.UID), uint32(u.GID))
	s.Process.Terminal = false
	s.Root.Path = rootfsDir
	mem, pids := int64(16<<20), int64(12)
	s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, Pids: &specs.LinuxPids{Limit: &pids}}
	write := func(args ...string) {
		s.Process.Args = args
		data, _ := json.Marshal(s)
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	systemctl := func(args ...string) string {
		cmd := u.Command("systemctl", append([]string{"--user"}, args...)...)
		cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+u.RuntimeDir+"/bus")
		out, _ := cmd.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	write("sh", "-c", `echo cgroup $(cat /proc/self/cgroup); echo memory.max $(cat /sys/fs/cgroup/memory.max); echo pids.max $(cat /sys/fs/cgroup/pids.max)
(echo 1000 > /proc/self/oom_score_adj; exec awk 'BEGIN { s = "x"; while (1) s = s s }') 2>/dev/null; echo hog $?
echo memory.events $(grep -E '^(max|oom_kill) ' /sys/fs/cgroup/memory.events)
(for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do sleep 5 & done; wait) 2>/dev/null
echo pids.events $(cat /sys/fs/cgroup/pids.events)`)
	out := mustInScope(t, u, "--systemd-cgroup", "run", "--bundle", bundle, "rlsd-limits")
	t.Logf("in the container:\n%s", out)
	got := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			got[k] = v
		}
	}
	for k, v := range map[string]string{"cgroup": "0::/", "memory.max": strconv.FormatInt(mem, 10), "pids.max": "12", "hog": "137"} {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	var memMax, oomKill, pidsMax int
	fmt.Sscanf(got["memory.events"], "max %d oom_kill %d", &memMax, &oomKill)
	fmt.Sscanf(got["pids.events"], "max %d", &pidsMax)
	if memMax == 0 || oomKill == 0 || pidsMax == 0 {
		t.Fatalf("limits never reached: memory.events %q, pids.events %q", got["memory.events"], got["pids.events"])
	}
	if out := systemctl("is-active", "kan-rlsd-limits.scope"); out == "active" {
		t.Fatalf("kan-rlsd-limits.scope still active after run: %s", out)
	}

	// The lifecycle: the unit in the user's user.slice, its properties,
	// update, pause and resume, delete.
	write("sleep", "1000")
	mustInScope(t, u, "--systemd-cgroup", "create", "--bundle", bundle, "rlsd-life")
	defer inScope(t, u, "delete", "--force", "rlsd-life")
	unit := "kan-rlsd-life.scope"
	dir := filepath.Join(service, "user.slice", unit)
	var st map[string]any
	json.Unmarshal([]byte(mustInScope(t, u, "state", "rlsd-life")), &st)
	if procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err != nil || strings.TrimSpace(string(procs)) != fmt.Sprint(st["pid"]) {
		t.Fatalf("the init (%v) is not alone in %s: %q, %v", st["pid"], dir, procs, err)
	}
	show := func() string {
		lines := strings.Split(systemctl("show", "-p", "MemoryMax", "-p", "TasksMax", "-p", "Delegate", unit), "\n")
		sort.Strings(lines)
		return strings.Join(lines, " ")
	}
	if out := show(); out != fmt.Sprintf("Delegate=yes MemoryMax=%d TasksMax=12", mem) {
		t.Fatalf("systemctl --user show %s: %q", unit, out)
	}
	mustInScope(t, u, "start", "rlsd-life")
	devs := filepath.Join(t.TempDir(), "r.json")
	os.Chmod(filepath.Dir(devs), 0o755)
	os.WriteFile(devs, []byte(`{"memory":{"limit":33554432},"pids":{"limit":20},"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}`), 0o644)
	mustInScope(t, u, "update", "-r", devs, "rlsd-life")
	for file, want := range map[string]string{"memory.max": "33554432", "pids.max": "20"} {
		if data, _ := os.ReadFile(filepath.Join(dir, file)); strings.TrimSpace(string(data)) != want {
			t.Errorf("after update, %s: %q, want %s", file, data, want)
		}
	}
	if out := show(); out != "Delegate=yes MemoryMax=33554432 TasksMax=20" {
		t.Errorf("after update, systemctl --user show %s: %q", unit, out)
	}
	mustInScope(t, u, "pause", "rlsd-life")
	if out := mustInScope(t, u, "state", "rlsd-life"); !strings.Contains(out, `"paused"`) {
		t.Fatalf("after pause: %s", out)
	}
	mustInScope(t, u, "resume", "rlsd-life")
	if out := mustInScope(t, u, "exec", "rlsd-life", "cat", "/proc/self/cgroup"); strings.TrimSpace(out) != "0::/" {
		t.Fatalf("exec's cgroup, seen from the container's cgroup namespace: %q", out)
	}
	mustInScope(t, u, "delete", "--force", "rlsd-life")
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("cgroup %s left behind", dir)
	}
	if out := systemctl("is-active", unit); out == "active" {
		t.Fatalf("%s still active after delete", unit)
	}

	// Outside the user's instance (as from a login session), and
	// without its bus: refused, nothing left.
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"outside", []string{"DBUS_SESSION_BUS_ADDRESS=unix:path=" + u.RuntimeDir + "/bus"}, "outside its user's systemd instance"},
		{"nobus", []string{"XDG_RUNTIME_DIR=" + t.TempDir()}, "enable-linger"},
	} {
		cmd := u.Command(kanBin, "--root", filepath.Join(u.RuntimeDir, "kan"), "--systemd-cgroup", "run", "--bundle", bundle, "rlsd-"+c.name)
		cmd.Env = append(cmd.Env, c.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: kan --systemd-cgroup run: %v %q; want an error saying %q", c.name, err, out, c.want)
		}
		if _, err := os.Stat(filepath.Join(u.RuntimeDir, "kan", "rlsd-"+c.name)); err == nil {
			t.Errorf("%s: state left behind", c.name)
		}
		if out := systemctl("is-active", "kan-rlsd-"+c.name+".scope"); out == "active" {
			t.Errorf("%s: unit left behind", c.name)
		}
	}
}

// TestRootlessPodman: rootless Podman, as an ordinary lingering user,
// with kan as its runtime, side by side with runc and crun: run, run -it,
// exec, stop, rm. Podman's defaults: the user's containers.conf only
// names kan's binary, so the cgroup manager is systemd (kan
// --systemd-cgroup through the user's instance) and Podman is started
// as from a login session, outside the user's instance: it puts conmon,
// and so the runtime, in a scope of it. The image is the busybox rootfs,
// imported (the VM is offline).
func TestRootlessPodman(t *testing.T) {
	u := lingeringUser(t)
	confDir := filepath.Join("/home", u.Name, ".config", "containers")
	os.MkdirAll(confDir, 0o755)
	conf := fmt.Sprintf("[engine.runtimes]\nkan = [%q]\n", kanBin)
	if err := os.WriteFile(filepath.Join(confDir, "containers.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	exec.Command("chown", "-R", fmt.Sprintf("%d:%d", u.UID, u.GID), filepath.Join("/home", u.Name, ".config")).Run()
	podman := func(args ...string) (string, error) {
		cmd := u.Command("podman", args...)
		cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+u.RuntimeDir+"/bus")
		cmd.Dir = "/tmp"
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	tarball := filepath.Join(dir, "busybox.tar")
	run(t, "tar", "-C", rootfsDir, "-cf", tarball, ".")
	os.Chmod(tarball, 0o644)
	// Podman's defaults: the systemd cgroup manager.
	if out, err := podman("info", "--format", "{{.Host.CgroupManager}}"); err != nil || out != "systemd" {
		t.Fatalf("podman info: cgroup manager %q, %v; want Podman's default for rootless, systemd", out, err)
	}
	if out, err := podman("import", tarball, "localhost/busybox:latest"); err != nil {
		t.Fatalf("podman import: %v\n%s", err, out)
	}
	type step struct {
		name, want string
		args       func(rt, name string) []string
	}
	steps := []step{
		{"run", "hello", func(rt, n string) []string {
			return []string{"--runtime", rt, "run", "--rm", "localhost/busybox", "echo", "hello"}
		}},
		{"run -d", "", func(rt, n string) []string {
			return []string{"--runtime", rt, "run", "-d", "--name", n, "localhost/busybox", "sleep", "1000"}
		}},
		{"exec", "0", func(rt, n string) []string { return []string{"exec", n, "id", "-u"} }},
		{"stop", n0, func(rt, n string) []string { return []string{"stop", "-t", "2", n} }},
		{"rm", n0, func(rt, n string) []string { return []string{"rm", n} }},
	}
	matrix := map[string]map[string]string{}
	for _, rt := range []string{"kan", "runc", "crun"} {
		matrix[rt] = map[string]string{}
		name := "rl-podman-" + rt
		for _, s := range steps {
			out, err := podman(s.args(rt, name)...)
			want := s.want
			if want == n0 {
				want = name
			}
			switch {
			case err != nil:
				matrix[rt][s.name] = "FAIL: " + out
			case want != "" && !strings.HasSuffix(out, want):
				matrix[rt][s.name] = fmt.Sprintf("FAIL: %q, want %q", out, want)
			default:
				matrix[rt][s.name] = "ok"
			}
			if s.name == "run -d" && err == nil {
				// The container's cgroup is its unit, a scope of the
				// user's systemd instance.
				cmd := u.Command("systemctl", "--user", "is-active", "libpod-"+strings.TrimSpace(out)+".scope")
				cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+u.RuntimeDir+"/bus")
				if active, _ := cmd.Output(); strings.TrimSpace(string(active)) != "active" {
					matrix[rt][s.name] = fmt.Sprintf("FAIL: unit libpod-%s.scope is %q in the user's instance", out, active)
				}
			}
		}
		// run -it: a terminal from script(1), Podman's -t gives the
		// container one.
		cmd := u.Command("script", "-qec", fmt.Sprintf("podman --runtime %s run -it --rm localhost/busybox sh -c 'tty && echo it-ok'", rt), "/dev/null")
		cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+u.RuntimeDir+"/bus")
		cmd.Dir = "/tmp"
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "/dev/pts/0") || !strings.Contains(string(out), "it-ok") {
			matrix[rt]["run -it"] = fmt.Sprintf("FAIL: %v %q", err, out)
		} else {
			matrix[rt]["run -it"] = "ok"
		}
	}
	for _, s := range []string{"run", "run -it", "run -d", "exec", "stop", "rm"} {
		t.Logf("%-8s kan: %-6s runc: %-6s crun: %s", s, short(matrix["kan"][s]), short(matrix["runc"][s]), short(matrix["crun"][s]))
	}
	for rt, m := range matrix {
		for s, v := range m {
			if v != "ok" {
				t.Errorf("rootless podman --runtime %s, %s: %s", rt, s, v)
			}
		}
	}
}

// n0 stands, in a step's want, for the container's name.
const n0 = "\x00name"

func short(v string) string {
	if v == "ok" {
		return "ok"
	}
	return "FAIL"
}
