package integration

// Rootless containers: kan run by an ordinary user the tests create (with
// subordinate id ranges), with its default root $XDG_RUNTIME_DIR/kan. This
// host delegates no cgroup to users (no systemd, hybrid cgroups), so the
// containers run without one; tests/sysvm runs them in a delegated cgroup
// with limits enforced.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/spec"
	"github.com/kan-runtime/kan/tests/testuser"
)

var (
	rlOnce sync.Once
	rlUser *testuser.User
	rlErr  error
)

// rootlessUser is the ordinary user of these tests, made once for the
// whole run and removed by TestMain (removeRootlessUser).
func rootlessUser(t *testing.T) *testuser.User {
	t.Helper()
	if userNSRefused != nil {
		t.Skipf("this host cannot make a user namespace: %v", userNSRefused)
	}
	rlOnce.Do(func() {
		if _, err := exec.LookPath("useradd"); err != nil {
			rlErr = fmt.Errorf("useradd: %w", err)
			return
		}
		rlUser, rlErr = testuser.Create(fmt.Sprintf("kanrl%d", os.Getpid()%100000), os.TempDir())
	})
	if rlErr != nil {
		t.Fatalf("make the rootless test user: %v", rlErr)
	}
	return rlUser
}

func removeRootlessUser() {
	if rlUser != nil {
		rlUser.Remove()
	}
}

// rlKan runs kan as the rootless user, without --root unless args have
// one: its state goes to $XDG_RUNTIME_DIR/kan.
func rlKan(t *testing.T, u *testuser.User, args ...string) result {
	t.Helper()
	return rlRun(t, u, kanBin, args...)
}

// rlRun runs the runtime bin (kan or runc) as the rootless user.
func rlRun(t *testing.T, u *testuser.User, bin string, args ...string) result {
	t.Helper()
	cmd := u.Command(bin, args...)
	// Files, not pipes: a created container keeps kan's stdio.
	of, err := os.CreateTemp("", "kan-rl-out-")
	if err != nil {
		t.Fatal(err)
	}
	ef, err := os.CreateTemp("", "kan-rl-err-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		of.Close()
		ef.Close()
		os.Remove(of.Name())
		os.Remove(ef.Name())
	}()
	cmd.Stdout, cmd.Stderr = of, ef
	err = cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %v as %s: %v", bin, args, u.Name, err)
		}
		code = ee.ExitCode()
	}
	o, _ := os.ReadFile(of.Name())
	e, _ := os.ReadFile(ef.Name())
	return result{string(o), string(e), code}
}

func rlMust(t *testing.T, u *testuser.User, args ...string) result {
	t.Helper()
	r := rlKan(t, u, args...)
	if r.code != 0 {
		t.Fatalf("kan %v as %s: %v", args, u.Name, r)
	}
	return r
}

func rlFails(t *testing.T, u *testuser.User, want string, args ...string) result {
	t.Helper()
	r := rlKan(t, u, args...)
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("kan %v as %s: want an error mentioning %q, got %v", args, u.Name, want, r)
	}
	return r
}

// userDir is a temporary directory the user owns, its parents searchable.
func userDir(t *testing.T, u *testuser.User) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	if err := os.Chown(dir, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rlBundle is what kan spec --rootless writes for the user, on the
// shared rootfs, running args without a terminal.
func rlBundle(t *testing.T, u *testuser.User, args ...string) *bundle {
	t.Helper()
	s := spec.Default(true, uint32(u.UID), uint32(u.GID))
	s.Process.Terminal = false
	s.Process.Args = args
	s.Root.Path = rootfsDir
	return &bundle{dir: userDir(t, u), Spec: s}
}

// withRanges maps, after root, the user's subordinate ranges: the ids
// newuidmap and newgidmap map, as rootless Podman's configs do.
func withRanges(b *bundle, u *testuser.User) {
	l := b.Spec.Linux
	l.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(u.UID), Size: 1}, {ContainerID: 1, HostID: uint32(u.SubUID), Size: uint32(u.SubCount)}}
	l.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(u.GID), Size: 1}, {ContainerID: 1, HostID: uint32(u.SubGID), Size: uint32(u.SubCount)}}
}

func rlID(t *testing.T) string { return "rl-" + newID(t) }

// rlState is the user's kan state of id, decoded.
func rlState(t *testing.T, u *testuser.User, id string) map[string]any {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(rlMust(t, u, "state", id).stdout), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func rlWaitStatus(t *testing.T, u *testuser.User, id, want string) {
	t.Helper()
	waitFor(t, "status "+want+" of "+id, func() bool {
		r := rlKan(t, u, "state", id)
		return r.code == 0 && strings.Contains(r.stdout, `"status": "`+want+`"`)
	})
}

// rlGone checks nothing of id is left in the user's state root.
func rlGone(t *testing.T, u *testuser.User, id string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(u.RuntimeDir, "kan", id)); err == nil {
		t.Errorf("container %s: state directory left behind in %s", id, u.RuntimeDir)
	}
}

// TestRootlessSpecLikeRunc: kan spec --rootless changes the default
// config exactly as runc spec --rootless changes runc's: the same
// namespaces dropped and added, the user's own ids mapped, the same mounts
// rewritten, no resources.
func TestRootlessSpecLikeRunc(t *testing.T) {
	u := rootlessUser(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed (tests/deps.sh installs it): nothing to compare with")
	}
	changes := func(bin string) map[string]any {
		dir := userDir(t, u)
		read := func(args ...string) map[string]any {
			os.Remove(filepath.Join(dir, "config.json"))
			cmd := u.Command(bin, append([]string{"spec", "--bundle", dir}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s spec %v as %s: %v: %s", bin, args, u.Name, err, out)
			}
			var m map[string]any
			data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
		return specDiff(read(), read("--rootless"))
	}
	kan, ref := changes(kanBin), changes(runc)
	if !reflect.DeepEqual(kan, ref) {
		k, _ := json.MarshalIndent(kan, "", " ")
		r, _ := json.MarshalIndent(ref, "", " ")
		t.Fatalf("kan spec --rootless changes\n%s\nrunc spec --rootless changes\n%s", k, r)
	}
	if m := kan["linux.uidMappings"]; !strings.Contains(fmt.Sprint(m), fmt.Sprintf("hostID:%d", u.UID)) {
		t.Fatalf("uid mappings %v do not map the user's uid %d", m, u.UID)
	}
}

// specDiff lists what turned config a into b: namespaces dropped and
// added, each mount whose entry changed (by destination), linux fields
// changed.
func specDiff(a, b map[string]any) map[string]any {
	out := map[string]any{}
	la, lb := a["linux"].(map[string]any), b["linux"].(map[string]any)
	ns := func(l map[string]any) []string {
		var n []string
		for _, x := range l["namespaces"].([]any) {
			n = append(n, x.(map[string]any)["type"].(string))
		}
		return n
	}
	na, nb := ns(la), ns(lb)
	var dropped, added []string
	for _, n := range na {
		if !slices.Contains(nb, n) {
			dropped = append(dropped, n)
		}
	}
	for _, n := range nb {
		if !slices.Contains(na, n) {
			added = append(added, n)
		}
	}
	out["namespaces dropped"], out["namespaces added"] = dropped, added
	mounts := func(m map[string]any) map[string]any {
		r := map[string]any{}
		for _, x := range m["mounts"].([]any) {
			r[x.(map[string]any)["destination"].(string)] = x
		}
		return r
	}
	ma, mb := mounts(a), mounts(b)
	for d, m := range mb {
		if !reflect.DeepEqual(ma[d], m) {
			out["mount "+d] = m
		}
	}
	for d := range ma {
		if mb[d] == nil {
			out["mount "+d] = "dropped"
		}
	}
	for k, v := range lb {
		if k != "namespaces" && !reflect.DeepEqual(la[k], v) {
			out["linux."+k] = v
		}
	}
	for k := range la {
		if _, ok := lb[k]; !ok {
			out["linux."+k] = "dropped"
		}
	}
	return out
}

// TestRootlessLifecycle: an ordinary user runs, creates, starts, execs
// into, lists, kills and deletes a container of kan spec --rootless, its
// state in $XDG_RUNTIME_DIR/kan, without a cgroup (none is delegated
// here), root in the container being the user on the host.
func TestRootlessLifecycle(t *testing.T) {
	u := rootlessUser(t)
	b := rlBundle(t, u, "sh", "-c", "id -u; cat /proc/self/uid_map")
	id := rlID(t)
	r := rlMust(t, u, "run", "--bundle", b.write(t), id)
	if want := fmt.Sprintf("0\n%10d %10d %10d\n", 0, u.UID, 1); r.stdout != want {
		t.Fatalf("run as %s: stdout %q, want %q", u.Name, r.stdout, want)
	}
	rlGone(t, u, id)

	b = rlBundle(t, u, "sleep", "1000")
	id = rlID(t)
	t.Cleanup(func() { rlKan(t, u, "delete", "--force", id) })
	rlMust(t, u, "create", "--bundle", b.write(t), id)
	if _, err := os.Stat(filepath.Join(u.RuntimeDir, "kan", id, "state.json")); err != nil {
		t.Fatalf("the state is not in $XDG_RUNTIME_DIR/kan: %v", err)
	}
	st := rlState(t, u, id)
	if st["status"] != "created" || st["owner"] != u.Name {
		t.Fatalf("state after create: %v", st)
	}
	pid := int(st["pid"].(float64))
	if uid := procUID(t, pid); uid != u.UID {
		t.Fatalf("the init runs as host uid %d, want the user's %d", uid, u.UID)
	}
	rlMust(t, u, "start", id)
	rlWaitStatus(t, u, id, "running")
	if r := rlMust(t, u, "list", "-q"); !strings.Contains(r.stdout, id+"\n") {
		t.Fatalf("list: %v", r)
	}
	if r := rlMust(t, u, "exec", id, "sh", "-c", "echo in; id -u"); r.stdout != "in\n0\n" {
		t.Fatalf("exec: %v", r)
	}
	rlMust(t, u, "exec", "--detach", id, "sleep", "999")
	// Without a cgroup, ps and kill --all find the container's processes
	// by its pid namespace.
	var pids []int
	json.Unmarshal([]byte(rlMust(t, u, "ps", "--format", "json", id).stdout), &pids)
	if len(pids) != 2 || !slices.Contains(pids, pid) {
		t.Fatalf("ps: pids %v, want the init %d and the exec'd sleep", pids, pid)
	}
	if r := rlMust(t, u, "ps", id); !strings.Contains(r.stdout, "sleep 999") || !strings.Contains(r.stdout, "sleep 1000") {
		t.Fatalf("ps table: %v", r)
	}
	rlFails(t, u, "no cgroup", "pause", id)
	rlFails(t, u, "no cgroup", "update", "--pids-limit", "10", id)
	rlMust(t, u, "kill", "--all", id, "KILL")
	rlWaitStatus(t, u, id, "stopped")
	for _, p := range pids {
		waitFor(t, fmt.Sprintf("process %d to end", p), func() bool { return !processRuns(p) })
	}
	rlMust(t, u, "delete", id)
	rlGone(t, u, id)
	if r := rlMust(t, u, "list", "-q"); strings.Contains(r.stdout, id) {
		t.Fatalf("list after delete: %v", r)
	}
}

// TestRootlessVsRunc: the lifecycle of TestRootlessLifecycle, step by
// step, by kan and by Debian's runc (--rootless, as the same user, the
// same bundle of kan spec --rootless, asking no limits) on this host,
// where no cgroup is delegated: the matrix "host without cgroups". kan
// must do each step but pause and update, which need a cgroup and which
// it refuses; the test logs the matrix and each step where runc differs.
func TestRootlessVsRunc(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed (tests/deps.sh installs it): nothing to compare with")
	}
	u := rootlessUser(t)
	type step struct {
		name string
		args func(b, id string) []string
		ok   func(r result) bool
	}
	ran := func(r result) bool { return r.code == 0 }
	steps := []step{
		{"run", func(b, id string) []string { return []string{"run", "--bundle", b, id + "-run"} }, func(r result) bool { return r.code == 0 && r.stdout == "0\n" }},
		{"create", func(b, id string) []string { return []string{"create", "--bundle", b, id} }, ran},
		{"state", func(b, id string) []string { return []string{"state", id} }, func(r result) bool { return strings.Contains(r.stdout, `"created"`) }},
		{"start", func(b, id string) []string { return []string{"start", id} }, ran},
		{"exec", func(b, id string) []string { return []string{"exec", id, "id", "-u"} }, func(r result) bool { return r.code == 0 && r.stdout == "0\n" }},
		{"ps", func(b, id string) []string { return []string{"ps", id} }, func(r result) bool { return r.code == 0 && strings.Contains(r.stdout, "PID") }},
		{"list", func(b, id string) []string { return []string{"list", "-q"} }, func(r result) bool { return strings.Contains(r.stdout, "\n") && r.code == 0 }},
		{"pause", func(b, id string) []string { return []string{"pause", id} }, ran},
		{"update", func(b, id string) []string { return []string{"update", "--pids-limit", "10", id} }, ran},
		{"kill", func(b, id string) []string { return []string{"kill", id, "KILL"} }, ran},
		{"delete", func(b, id string) []string { return []string{"delete", "--force", id} }, ran},
	}
	got := map[string]map[string]string{}
	for _, rt := range []struct{ name, bin string }{{"kan", kanBin}, {"runc", runc}} {
		got[rt.name] = map[string]string{}
		bdir := rlBundle(t, u, "sleep", "1000").write(t)
		// run's container only says who it is.
		runDir := rlBundle(t, u, "id", "-u").write(t)
		id := rlID(t)
		t.Cleanup(func() { rlRun(t, u, rt.bin, "delete", "--force", id) })
		for _, s := range steps {
			dir := bdir
			if s.name == "run" {
				dir = runDir
			}
			r := rlRun(t, u, rt.bin, s.args(dir, id)...)
			if s.ok(r) {
				got[rt.name][s.name] = "ok"
			} else {
				got[rt.name][s.name] = fmt.Sprintf("refused (%d): %s", r.code, strings.TrimSpace(r.stderr+r.stdout))
			}
			if s.name == "kill" {
				// Both stop: the next step deletes a stopped container.
				for i := 0; i < 200 && !strings.Contains(rlRun(t, u, rt.bin, "state", id).stdout, `"stopped"`); i++ {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}
	}
	for _, s := range steps {
		t.Logf("%-7s kan: %-8s runc: %s", s.name, short(got["kan"][s.name]), short(got["runc"][s.name]))
	}
	for _, s := range steps {
		k, r := got["kan"][s.name], got["runc"][s.name]
		switch {
		case s.name == "pause" || s.name == "update":
			if k == "ok" {
				t.Errorf("kan %s succeeded without a cgroup", s.name)
			}
			if r == "ok" {
				t.Logf("%s: runc says it succeeded without a cgroup, kan refuses: %s", s.name, k)
			}
		case k != "ok":
			t.Errorf("%s: kan %s; runc %s", s.name, k, r)
		case r != "ok":
			t.Logf("%s: kan ok, runc %s", s.name, r)
		}
	}
}

func short(v string) string {
	if v == "ok" {
		return "ok"
	}
	return "refused"
}

// processRuns tells whether pid is a live process (not a zombie).
func processRuns(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	return i > 0 && len(data) > i+2 && data[i+2] != 'Z' && data[i+2] != 'X'
}

// procUID is the real uid of pid on the host.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

// TestRootlessSubordinateRanges: a config mapping the user's /etc/subuid
// and /etc/subgid ranges as well as its own ids runs (newuidmap and
// newgidmap write the maps), and a container user other than root is the
// matching subordinate id on the host.
func TestRootlessSubordinateRanges(t *testing.T) {
	u := rootlessUser(t)
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian's uidmap; tests/deps.sh installs it)", tool)
		}
	}
	b := rlBundle(t, u, "sleep", "1000")
	withRanges(b, u)
	id := rlID(t)
	t.Cleanup(func() { rlKan(t, u, "delete", "--force", id) })
	rlMust(t, u, "run", "--detach", "--bundle", b.write(t), id)
	want := fmt.Sprintf("%10d %10d %10d\n%10d %10d %10d\n", 0, u.UID, 1, 1, u.SubUID, u.SubCount)
	if r := rlMust(t, u, "exec", id, "cat", "/proc/self/uid_map"); r.stdout != want {
		t.Fatalf("uid_map %q, want %q", r.stdout, want)
	}
	// setgroups stays allowed with newgidmap: groups work.
	if r := rlMust(t, u, "exec", "--user", "1000:1000", "--additional-gids", "2000", id, "sh", "-c", "id -u; id -G"); r.stdout != "1000\n1000 2000\n" {
		t.Fatalf("exec as 1000 with group 2000: %v", r)
	}
	rlMust(t, u, "exec", "--detach", "--user", "1000:1000", id, "sleep", "998")
	var pids []int
	json.Unmarshal([]byte(rlMust(t, u, "ps", "--format", "json", id).stdout), &pids)
	found := false
	for _, p := range pids {
		if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); strings.HasPrefix(string(cmd), "sleep\x00998") {
			found = true
			if uid := procUID(t, p); uid != u.SubUID+999 {
				t.Fatalf("container uid 1000 is host uid %d, want %d (subordinate start %d + 999)", uid, u.SubUID+999, u.SubUID)
			}
		}
	}
	if !found {
		t.Fatalf("the process run as uid 1000 is not among the container's: %v", pids)
	}
	rlMust(t, u, "delete", "--force", id)
	rlGone(t, u, id)

	// Ranges that are not the user's: newuidmap refuses, the error names
	// the field, nothing is left.
	b.Spec.Linux.UIDMappings[1].HostID = uint32(u.SubUID + u.SubCount)
	id = rlID(t)
	rlFails(t, u, "linux.uidMappings", "run", "--bundle", b.write(t), id)
	rlGone(t, u, id)
}

// TestRootlessDevicesAndSysfs: what a user namespace cannot make is done
// the rootless way: device nodes are the host's, bind-mounted (mknod is
// refused there), and a sysfs the config asks for is the host's /sys,
// bound, when a fresh one cannot be mounted (the host's network
// namespace is not the container's to mount sysfs for).
func TestRootlessDevicesAndSysfs(t *testing.T) {
	u := rootlessUser(t)
	b := rlBundle(t, u, "sh", "-c", `stat -c '%t:%T %F' /dev/null /dev/zero /dev/urandom; echo data > /dev/null && echo null-writable
head -c 4 /dev/zero | wc -c; ls /sys/class/net/lo >/dev/null && echo sysfs-ok; grep -c ' /sys sysfs ' /proc/mounts`)
	for i, m := range b.Spec.Mounts {
		if m.Destination == "/sys" {
			b.Spec.Mounts[i] = specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}}
		}
	}
	// A device the config asks for: the host's node, bound, which the
	// kernel lets the container's root use only as far as the user may
	// (not at all: it is root's, mode 0600).
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("this host has no /dev/loop-control to give the container: %v", err)
	}
	b.Spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/loop-control", Type: "c", Major: 10, Minor: 237}}
	b.Spec.Process.Args[2] += "; test -c /dev/loop-control && echo loop-control-there; cat /dev/loop-control 2>/dev/null || echo loop-control-denied"
	r := rlMust(t, u, "run", "--bundle", b.write(t), rlID(t))
	want := "1:3 character special file\n1:5 character special file\n1:9 character special file\nnull-writable\n4\nsysfs-ok\n1\nloop-control-there\nloop-control-denied\n"
	if r.stdout != want {
		t.Fatalf("devices and sysfs:\n%s\nwant\n%s\nstderr %s", r.stdout, want, r.stderr)
	}
}

// TestRootlessRefusals: what a rootless kan cannot honour is refused
// before anything exists, with the field: limits without a cgroup to
// apply them in, a hard rlimit above the user's own.
func TestRootlessRefusals(t *testing.T) {
	u := rootlessUser(t)
	limit, pids := int64(64<<20), int64(10)
	cases := []struct {
		name, want string
		edit       func(*specs.Spec)
	}{
		{"memory limit", "linux.resources.memory.limit", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		}},
		{"pids limit", "linux.resources.pids.limit", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &pids}}
		}},
		{"idmapped mount", "mounts[", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Source: "/tmp", Type: "bind", Options: []string{"bind", "idmap"}})
		}},
		{"hard rlimit above the user's", "RLIMIT_NOFILE hard limit", func(s *specs.Spec) {
			var cur syscall.Rlimit
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur)
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 64, Hard: cur.Max + 1}}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := rlBundle(t, u, "true")
			c.edit(b.Spec)
			id := rlID(t)
			rlFails(t, u, c.want, "run", "--bundle", b.write(t), id)
			rlGone(t, u, id)
		})
	}
	// Device rules alone are no limit: the kernel checks devices against
	// the user's own access, and the container runs (runc's behaviour).
	b := rlBundle(t, u, "true")
	b.Spec.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	rlMust(t, u, "run", "--bundle", b.write(t), rlID(t))
}

// TestRootlessNoMoreThanTheUser: a rootless container gains nothing its
// user did not have. Root in it cannot write a root-owned host file
// through a bind mount (read-write, with and without the subordinate
// ranges), nor raise a hard rlimit above the user's; and the user's kan
// cannot reach another user's (here root's) state directory.
func TestRootlessNoMoreThanTheUser(t *testing.T) {
	u := rootlessUser(t)
	hostDir := t.TempDir()
	os.Chmod(filepath.Dir(hostDir), 0o755)
	os.Chmod(hostDir, 0o755)
	secret := filepath.Join(hostDir, "root-owned")
	if err := os.WriteFile(secret, []byte("root's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ranges := range []bool{false, true} {
		name := map[bool]string{false: "own-ids", true: "subordinate-ranges"}[ranges]
		t.Run(name, func(t *testing.T) {
			b := rlBundle(t, u, "sh", "-c", `echo owned > /home/root-owned && echo WROTE; chmod 666 /home/root-owned && echo CHMOD; rm /home/root-owned && echo REMOVED
touch /home/new && echo CREATED; ulimit -H -n $(( $(ulimit -H -n) + 1 )) 2>/dev/null && echo RAISED; echo done`)
			if ranges {
				withRanges(b, u)
			}
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/home", Type: "bind", Source: hostDir, Options: []string{"rbind", "rw"}})
			r := rlMust(t, u, "run", "--bundle", b.write(t), rlID(t))
			if r.stdout != "done\n" {
				t.Fatalf("root of a rootless container did more than its user may: %v", r)
			}
			if data, _ := os.ReadFile(secret); string(data) != "root's\n" {
				t.Fatalf("the root-owned host file now holds %q", data)
			}
			if fi, _ := os.Stat(secret); fi.Mode().Perm() != 0o644 {
				t.Fatalf("the root-owned host file's mode is now %v", fi.Mode().Perm())
			}
		})
	}

	// Root's containers, in root's state directory (0700 root's).
	e := newEnv(t)
	os.Chmod(filepath.Dir(e.root), 0o755)
	id := e.create(sleeper(t))
	for _, args := range [][]string{{"state", id}, {"kill", id, "KILL"}, {"delete", "--force", id}, {"exec", id, "true"}} {
		r := rlKan(t, u, append([]string{"--root", e.root}, args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, "permission denied") {
			t.Errorf("kan %v on root's state as %s: %v", args, u.Name, r)
		}
	}
	if s := e.status(id); s != "created" {
		t.Fatalf("root's container is %s after the user's attempts", s)
	}
	// Nor can the user put a container of its own into root's directory.
	b := rlBundle(t, u, "true")
	if r := rlKan(t, u, "--root", e.root, "run", "--bundle", b.write(t), "intruder"); r.code == 0 {
		t.Fatalf("the user ran a container in root's state directory: %v", r)
	}
	if _, err := os.Stat(filepath.Join(e.root, "intruder")); err == nil {
		t.Fatal("the user's container left a state directory in root's")
	}
}

// TestRootlessFeatures: kan features says whether kan runs rootless —
// auto: yes for the user, no for root — and, rootless, what it can do on
// this host for that user: its ranges, the delegated cgroup (none here),
// no idmapped mounts.
func TestRootlessFeatures(t *testing.T) {
	u := rootlessUser(t)
	decode := func(r result) map[string]any {
		var f map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
			t.Fatalf("features: %v in %v", err, r)
		}
		return f
	}
	ann := func(f map[string]any) map[string]any { return f["annotations"].(map[string]any) }
	const key = "io.github.kan-runtime.kan.rootless"
	root := newEnv(t)
	if a := ann(decode(root.must("features"))); a[key] != "false" {
		t.Fatalf("root, --rootless auto: %s = %v", key, a[key])
	}
	f := decode(rlMust(t, u, "features"))
	a := ann(f)
	if a[key] != "true" {
		t.Fatalf("user, --rootless auto: %s = %v", key, a[key])
	}
	if idmap, _ := a[key+".idmap"].(string); !strings.Contains(idmap, fmt.Sprintf("uids %d-%d", u.SubUID, u.SubUID+u.SubCount-1)) {
		t.Fatalf("%s.idmap = %q, without the user's range", key, idmap)
	}
	if cg, _ := a[key+".cgroup"].(string); !strings.HasPrefix(cg, "none") {
		t.Fatalf("%s.cgroup = %q: this host delegates no cgroup", key, cg)
	}
	if ext := fmt.Sprint(f["linux"].(map[string]any)["mountExtensions"]); !strings.Contains(ext, "enabled:false") {
		t.Fatalf("rootless mountExtensions %s: idmapped mounts need privilege", ext)
	}
	if a := ann(decode(rlMust(t, u, "--rootless", "false", "features"))); a[key] != "false" {
		t.Fatalf("user, --rootless false: %s = %v", key, a[key])
	}
}
