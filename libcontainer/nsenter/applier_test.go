package nsenter

// The seam below the process: the applier and the plan reader of
// laststage.c, fed plans from Go without a container. Each case runs in
// a child, this test binary run again (TestMain), because the applier
// does not return on failure: it writes kan's error line to the sync
// socket and exits. The child gets the sync socket as the Go init does,
// in _KAN_SYNC, so the constructor of nsenter.c reports {"type":"pid"}
// on it and goes on into Go; the child then calls Load, Become and Run
// on a locked thread, as the Go init does.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/seccomp"
)

// The child's environment: what to do (seamLoad or seamRun) and the
// file that holds the plan.
const (
	envSeamChild = "_KAN_SEAM_CHILD"
	envSeamPlan  = "_KAN_SEAM_PLAN"
	seamLoad     = "load" // Load, and print what it unpacked
	seamRun      = "run"  // Load, Become, Run
	// The exec stage of nsenter.c instead of Go: the plan comes over
	// the sync socket after the pid line, as kan exec sends it.
	seamExecStage = "exec-stage"
)

// The child's fds: the sync socket, the init's exec.done and exec.fifo
// for plans with Init, and "/" for an exec plan's root.
const (
	childSyncFd = 3
	childDoneFd = 4
	childFifoFd = 5
	childRootFd = 6
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envSeamChild); mode != "" {
		seamChild(mode)
	}
	os.Exit(m.Run())
}

// unpackedPlan is what the child of seamLoad prints.
type unpackedPlan struct {
	Groups  []uint32
	Seccomp []unix.SockFilter
	Strings []string
}

func seamChild(mode string) {
	runtime.LockOSThread()
	plan, err := os.ReadFile(os.Getenv(envSeamPlan))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	p := Load(plan)
	if mode == seamLoad {
		var u unpackedPlan
		u.Groups, u.Seccomp, u.Strings = p.unpacked()
		json.NewEncoder(os.Stdout).Encode(u)
		os.Exit(0)
	}
	p.Become()
	p.Run()
	os.Exit(4) // Run does not return
}

// childResult is what a child left: the lines it wrote to the sync
// socket after the constructor's "pid", its output, what it wrote to
// exec.done, and its exit status.
type childResult struct {
	lines  []map[string]any
	stdout string
	done   string
	status int
}

// errorLine returns the msg and errno of the child's error line; it
// fails the test unless there is exactly one line and it is an error.
func (r childResult) errorLine(t *testing.T) (string, int) {
	t.Helper()
	if len(r.lines) != 1 || r.lines[0]["type"] != "error" {
		t.Fatalf("want one error line after pid, got %v (status %d, done %q)", r.lines, r.status, r.done)
	}
	msg, _ := r.lines[0]["msg"].(string)
	errno, _ := r.lines[0]["errno"].(float64)
	return msg, int(errno)
}

// runChild runs the child on plan and collects what it left, within a
// bounded time. attr, if set, is how to start it.
func runChild(t *testing.T, mode string, plan []byte, attr *syscall.SysProcAttr) childResult {
	t.Helper()
	planFile := filepath.Join(t.TempDir(), "plan")
	if err := os.WriteFile(planFile, plan, 0o644); err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	syncParent, syncChild := os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync-child")
	defer syncParent.Close()
	doneRead, doneWrite, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer doneRead.Close()
	fifo, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	root, err := os.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = []string{
		EnvSync + "=" + strconv.Itoa(childSyncFd),
		envSeamChild + "=" + mode,
		envSeamPlan + "=" + planFile,
	}
	if mode == seamExecStage {
		cmd.Env = []string{EnvSync + "=" + strconv.Itoa(childSyncFd), EnvStage + "=" + StageExec}
	}
	cmd.ExtraFiles = []*os.File{syncChild, doneWrite, fifo, root} // fds 3 to 6
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = attr
	err = cmd.Start()
	syncChild.Close()
	doneWrite.Close()
	if err != nil {
		if attr != nil && attr.Cloneflags&unix.CLONE_NEWUSER != 0 {
			t.Skipf("cannot start a child in a user namespace: %v", err)
		}
		t.Fatal(err)
	}

	// Both end when the child exits or executes its program.
	var lines []map[string]any
	sc := bufio.NewScanner(syncParent)
	for sc.Scan() {
		if mode == seamExecStage && len(lines) == 0 {
			// The exec stage reads its plan once it has said "pid";
			// the end of the plan's bytes is the end of the stream.
			if _, err := syncParent.Write(plan); err != nil {
				t.Errorf("send the plan: %v", err)
			}
			unix.Shutdown(int(syncParent.Fd()), unix.SHUT_WR)
		}
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Errorf("sync socket: %q is no JSON line: %v", sc.Text(), err)
		}
		lines = append(lines, line)
	}
	done, _ := io.ReadAll(doneRead)
	err = cmd.Wait()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("child still running after 30s: killed (stderr %q)", stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("child stderr: %s", stderr.String())
	}
	if len(lines) == 0 || lines[0]["type"] != "pid" || lines[0]["pid"] != float64(0) {
		t.Fatalf("the constructor's first line: want {\"type\":\"pid\",\"pid\":0}, got %v", lines)
	}
	return childResult{lines: lines[1:], stdout: stdout.String(), done: string(done), status: cmd.ProcessState.ExitCode()}
}

// validPlan is a plan that Load takes, for the cases to spoil.
func validPlan() ExecPlan {
	return ExecPlan{
		Process: Process{
			Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 512, Hard: 1024}},
			UID:     1000, GID: 1000, Groups: []uint32{1001, 1002},
			Cwd: "/", Args: []string{"sh", "-c", "true"}, Env: []string{"PATH=/usr/bin:/bin", "A=b"},
			ApparmorProfile: "", SelinuxLabel: "system_u:system_r:container_t:s0",
			SchedulerDesc: "process.scheduler", IOPriorityDesc: "process.ioPriority", MemoryPolicyDesc: "linux.memoryPolicy",
			CPUAffinityDesc: "process.execCPUAffinity", GroupsDesc: "process.user.additionalGids [1001 1002]",
		},
		RootFd: -1, ConsoleFd: -1, FirstCloexecFd: childSyncFd,
		Seccomp: []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0x7fff0000}, {Code: unix.BPF_RET | unix.BPF_K}},
		Init:    true, FifoFd: childFifoFd, DoneFd: childDoneFd, Keyring: "_ses.seam",
	}
}

func marshal(t *testing.T, p ExecPlan) []byte {
	t.Helper()
	buf, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

// put32 returns a copy of buf with the uint32 at field's offset set to v.
func put32(buf []byte, field string, v uint32) []byte {
	buf = append([]byte{}, buf...)
	binary.NativeEndian.PutUint32(buf[planField[field]:], v)
	return buf
}

// TestLoadUnpacks: a valid plan comes out of the C reader as it went
// into Marshal, the variable part in its order.
func TestLoadUnpacks(t *testing.T) {
	p := validPlan()
	r := runChild(t, seamLoad, marshal(t, p), nil)
	if r.status != 0 || len(r.lines) != 0 {
		t.Fatalf("Load refused a valid plan: status %d, lines %v", r.status, r.lines)
	}
	var got unpackedPlan
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("child output %q: %v", r.stdout, err)
	}
	want := unpackedPlan{Groups: p.Groups, Seccomp: p.Seccomp}
	want.Strings = append(append(append([]string{p.Cwd}, p.Args...), p.Env...),
		p.ApparmorProfile, p.SelinuxLabel, p.SchedulerDesc, p.IOPriorityDesc, p.MemoryPolicyDesc,
		p.CPUAffinityDesc, p.GroupsDesc, p.Keyring)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unpacked\n got %+v\nwant %+v", got, want)
	}
}

// TestLoadRefusesMalformed: every plan the reader cannot trust is
// refused with kan's error line, "malformed plan from kan" and EPROTO,
// before anything of it is applied.
func TestLoadRefusesMalformed(t *testing.T) {
	valid := marshal(t, validPlan())
	size := u32(valid, "size")
	for _, tc := range []struct {
		name string
		plan []byte
	}{
		{"empty", nil},
		{"truncated fixed part", valid[:planFixedSize-1]},
		{"truncated variable part", valid[:len(valid)-1]},
		{"a byte more than size", append(append([]byte{}, valid...), 0)},
		{"bad magic", put32(valid, "magic", 0x6b616e31)},
		{"size above 16 MiB", put32(valid, "size", 16<<20+1)},
		{"size past the buffer", put32(valid, "size", size+1)},
		{"uid -1", put32(valid, "uid", ^uint32(0))},
		{"gid -1", put32(valid, "gid", ^uint32(0))},
		{"groups overflowing size", put32(valid, "ngroups", size/4+1)},
		{"seccomp over the kernel's 4096 instructions", put32(valid, "seccomp_len", 4097)},
		{"groups and seccomp overflowing size", put32(valid, "seccomp_len", (size-2*4)/8+1)},
		{"17 rlimits", put32(valid, "nrlimits", 17)},
		{"rlimit resource 16", put32(valid, "rlimits", 16)},
		{"no arguments", put32(valid, "nargs", 0)},
		{"more strings than bytes", put32(valid, "nenv", size)},
		{"one string more than there are", put32(valid, "nenv", 3)},
		{"one string fewer than there are", put32(valid, "nenv", 1)},
		{"first cloexec fd 2", put32(valid, "first_cloexec_fd", 2)},
		{"init's exec.fifo fd 0", put32(valid, "fifo_fd", 0)},
		{"init's exec.done fd 2", put32(valid, "done_fd", 2)},
		{"memory policy past 1024 nodes", put32(valid, "mempolicy_maxnode", 16*64+2)},
		{"last string without its NUL", put32(valid[:len(valid)-1], "size", size-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runChild(t, seamLoad, tc.plan, nil)
			msg, errno := r.errorLine(t)
			if msg != "malformed plan from kan" || errno != int(unix.EPROTO) {
				t.Errorf("error %q errno %d, want \"malformed plan from kan\" errno %d (EPROTO)", msg, errno, unix.EPROTO)
			}
			if r.status != 1 || r.stdout != "" {
				t.Errorf("status %d, output %q: want 1 and nothing unpacked", r.status, r.stdout)
			}
		})
	}
}

// needRoot skips t unless it runs as root with every capability the
// applier uses to become another user.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the applier changes users and capabilities")
	}
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []uint{unix.CAP_SETUID, unix.CAP_SETGID, unix.CAP_SETPCAP, unix.CAP_SYS_ADMIN, unix.CAP_CHOWN, unix.CAP_KILL, unix.CAP_NET_BIND_SERVICE} {
		if data[c/32].Effective&(1<<(c%32)) == 0 {
			t.Skipf("needs root with capability %d", c)
		}
	}
}

// capLast is the kernel's last capability.
func capLast(t *testing.T) uint32 {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// statusField is a field of this process's /proc/self/status.
func statusField(t *testing.T, name string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/self/status has no %s", name)
	return ""
}

// rootPlan runs true as root with the capabilities this process has:
// the base the failure cases change one thing of.
func rootPlan(t *testing.T) ExecPlan {
	last := capLast(t)
	all, err := strconv.ParseUint(statusField(t, "CapPrm"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ExecPlan{
		Process: Process{
			CapLast: last, Bounding: all, Effective: all, Permitted: all, Inheritable: all,
			Cwd: "/", Args: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"},
			SchedulerDesc: "process.scheduler {policy SCHED_BOGUS}", GroupsDesc: "process.user.additionalGids [0]",
		},
		RootFd: -1, ConsoleFd: -1, FirstCloexecFd: childSyncFd,
		Init: true, FifoFd: childFifoFd, DoneFd: childDoneFd,
	}
}

// TestBecome: a plan applied as the Go init applies it makes the program
// run as its user, groups, capabilities, umask, cwd, no_new_privs,
// rlimits, oom_score_adj, personality and seccomp filter, and nothing
// goes to kan or to exec.done.
func TestBecome(t *testing.T) {
	needRoot(t)
	dir, err := os.MkdirTemp("", "kan-seam-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// mkdir fails with an errno nothing else gives: the filter is the
	// plan's.
	hwpoison := uint(unix.EHWPOISON)
	filter, err := seccomp.Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &hwpoison}},
	}, seccomp.Native())
	if err != nil {
		t.Fatal(err)
	}
	filters, _ := strconv.Atoi(statusField(t, "Seccomp_filters"))

	const kill, bind, chown = 1 << unix.CAP_KILL, 1 << unix.CAP_NET_BIND_SERVICE, 1 << unix.CAP_CHOWN
	umask, oom, personality := uint32(0o027), 500, uint64(0x0040000) // ADDR_NO_RANDOMIZE
	p := ExecPlan{
		Process: Process{
			OOMScoreAdj: &oom, Personality: &personality,
			Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 512, Hard: 1024}},
			UID:     1000, GID: 1000, Groups: []uint32{1001, 1002}, Umask: &umask,
			CapLast: capLast(t), Bounding: kill | bind | chown,
			Effective: kill | bind, Permitted: kill | bind, Inheritable: kill | bind, Ambient: kill | bind,
			NoNewPrivileges: true,
			Cwd:             dir,
			Args: []string{"sh", "-c", "id -u; id -g; id -G; umask; ulimit -n; ulimit -Hn; pwd; " +
				"cat /proc/self/oom_score_adj /proc/self/personality; " +
				"grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status; " +
				"mkdir d 2>&1 || true"},
			Env:        []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"},
			GroupsDesc: "process.user.additionalGids [1001 1002]",
		},
		RootFd: -1, ConsoleFd: -1, FirstCloexecFd: childSyncFd,
		Seccomp: filter.Program, SeccompFlags: filter.Flags,
		Init: true, FifoFd: childFifoFd, DoneFd: childDoneFd,
	}
	r := runChild(t, seamRun, marshal(t, p), nil)
	if r.status != 0 || len(r.lines) != 0 || r.done != "" {
		t.Fatalf("status %d, lines %v, exec.done %q, output %q", r.status, r.lines, r.done, r.stdout)
	}
	out := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	want := []string{
		"1000", "1000", "1000 1001 1002", "0027", "512", "1024", dir, "500", "00040000",
		"CapInh:\t0000000000000420",
		"CapPrm:\t0000000000000420",
		"CapEff:\t0000000000000420",
		"CapBnd:\t0000000000000421",
		"CapAmb:\t0000000000000420",
		"NoNewPrivs:\t1",
		"Seccomp:\t2",
		fmt.Sprintf("Seccomp_filters:\t%d", filters+1),
	}
	if len(out) != len(want)+1 || !reflect.DeepEqual(out[:len(want)], want) {
		t.Fatalf("the program's view:\n%s\nwant:\n%s\n(and mkdir's error)", r.stdout, strings.Join(want, "\n"))
	}
	if !strings.Contains(out[len(want)], "hardware error") {
		t.Errorf("mkdir under the plan's filter: %q, want EHWPOISON's text", out[len(want)])
	}
}

// TestBecomeFailures: each failure reaches kan as one error line that
// names the config's field, with the errno, and the process exits; after
// ready (Run), it goes to exec.done instead, for kan start.
func TestBecomeFailures(t *testing.T) {
	needRoot(t)
	// A user namespace where only root is mapped and setgroups is
	// denied: the ids and groups the kernel refuses there.
	userns := &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	for _, tc := range []struct {
		name   string
		change func(*ExecPlan)
		attr   *syscall.SysProcAttr
		msg    string
		errno  syscall.Errno
	}{
		{"missing cwd", func(p *ExecPlan) { p.Cwd = "/nonexistent/kan-seam" }, nil,
			"process.cwd /nonexistent/kan-seam", unix.ENOENT},
		{"program not in PATH", func(p *ExecPlan) { p.Args = []string{"kan-seam-no-such-program"} }, nil,
			`process.args[0]: "kan-seam-no-such-program": executable file not found in $PATH (/usr/bin:/bin)`, 0},
		{"program not executable", func(p *ExecPlan) { p.Args = []string{"/etc/passwd"} }, nil,
			"process.args[0]: exec /etc/passwd", unix.EACCES},
		{"oom_score_adj out of range", func(p *ExecPlan) { v := 5000; p.OOMScoreAdj = &v }, nil,
			"process.oomScoreAdj 5000", unix.EINVAL},
		{"unknown scheduling policy", func(p *ExecPlan) { p.Scheduler = &unix.SchedAttr{Policy: 99} }, nil,
			"process.scheduler {policy SCHED_BOGUS}", unix.EINVAL},
		{"invalid filter, no_new_privs (installed last)", func(p *ExecPlan) {
			p.NoNewPrivileges, p.Seccomp = true, []unix.SockFilter{{Code: 0xffff}}
		}, nil, "linux.seccomp: install the filter", unix.EINVAL},
		{"invalid filter, no no_new_privs (installed first)", func(p *ExecPlan) {
			p.Seccomp = []unix.SockFilter{{Code: 0xffff}}
		}, nil, "linux.seccomp: install the filter", unix.EINVAL},
		{"uid the user namespace does not map", func(p *ExecPlan) { p.UID = 2000 }, userns,
			"process.user.uid 2000", unix.EINVAL},
		{"gid the user namespace does not map", func(p *ExecPlan) { p.GID = 2000 }, userns,
			"process.user.gid 2000", unix.EINVAL},
		{"groups where setgroups is denied", func(p *ExecPlan) { p.Groups = []uint32{0} }, userns,
			"process.user.additionalGids [0]", unix.EPERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := rootPlan(t)
			tc.change(&p)
			r := runChild(t, seamRun, marshal(t, p), tc.attr)
			msg, errno := r.errorLine(t)
			if msg != tc.msg || errno != int(tc.errno) {
				t.Errorf("error %q errno %d, want %q errno %d", msg, errno, tc.msg, int(tc.errno))
			}
			if r.status != 1 || r.done != "" {
				t.Errorf("status %d, exec.done %q: want 1 and nothing", r.status, r.done)
			}
		})
	}

	// The plan of the control case runs: the failures above are each
	// the one change's.
	t.Run("control", func(t *testing.T) {
		r := runChild(t, seamRun, marshal(t, rootPlan(t)), nil)
		if r.status != 0 || len(r.lines) != 0 || r.done != "" {
			t.Errorf("status %d, lines %v, exec.done %q", r.status, r.lines, r.done)
		}
	})
	t.Run("control in the user namespace", func(t *testing.T) {
		r := runChild(t, seamRun, marshal(t, rootPlan(t)), userns)
		if r.status != 0 || len(r.lines) != 0 || r.done != "" {
			t.Errorf("status %d, lines %v, exec.done %q", r.status, r.lines, r.done)
		}
	})

	// Run sets the rlimits after ready: its failure is exec.done's, the
	// message then the errno after a NUL.
	t.Run("rlimits after ready", func(t *testing.T) {
		p := rootPlan(t)
		p.Rlimits = []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 2048, Hard: 1024}}
		r := runChild(t, seamRun, marshal(t, p), nil)
		want := fmt.Sprintf("process.rlimits RLIMIT_NOFILE (soft 2048, hard 1024)\x00%d", unix.EINVAL)
		if len(r.lines) != 0 || r.done != want || r.status == 0 {
			t.Errorf("lines %v, exec.done %q, status %d: want no line, %q, a failure", r.lines, r.done, r.status, want)
		}
	})
}

// TestExecStage: the exec stage, which reads its plan from the sync
// socket (kan_read_plan) rather than a buffer, refuses what Load refuses,
// fails on a plan cut short, and applies a valid one from "pid" to
// execve without ever starting Go.
func TestExecStage(t *testing.T) {
	needRoot(t) // chroot to the plan's root
	p := rootPlan(t)
	p.Init, p.FifoFd, p.DoneFd = false, 0, 0
	p.RootFd = childRootFd
	p.UID, p.GID, p.Groups = 1000, 1000, []uint32{1001}
	p.Cwd, p.Args = "/proc", []string{"sh", "-c", "id -u; id -G; pwd; grep ^CapEff: /proc/self/status"}
	p.Effective, p.Permitted, p.Inheritable, p.Ambient = 0, 0, 0, 0
	valid := marshal(t, p)

	r := runChild(t, seamExecStage, valid, nil)
	if want := "1000\n1000 1001\n/proc\nCapEff:\t0000000000000000\n"; r.status != 0 || len(r.lines) != 0 || r.stdout != want {
		t.Errorf("status %d, lines %v, output %q: want 0, none, %q", r.status, r.lines, r.stdout, want)
	}

	for _, tc := range []struct {
		name  string
		plan  []byte
		msg   string
		errno syscall.Errno
	}{
		{"no plan", nil, "read the plan from kan", unix.EPIPE},
		{"truncated fixed part", valid[:planFixedSize-1], "read the plan from kan", unix.EPIPE},
		{"truncated variable part", valid[:len(valid)-1], "read the plan from kan", unix.EPIPE},
		{"bad magic", put32(valid, "magic", 0), "malformed plan from kan", unix.EPROTO},
		{"uid -1", put32(valid, "uid", ^uint32(0)), "malformed plan from kan", unix.EPROTO},
		{"seccomp over the kernel's 4096 instructions", put32(valid, "seccomp_len", 4097), "malformed plan from kan", unix.EPROTO},
		{"one string fewer than there are", put32(valid, "nenv", 0), "malformed plan from kan", unix.EPROTO},
		{"an init's plan", marshal(t, rootPlan(t)), "malformed plan from kan", unix.EPROTO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runChild(t, seamExecStage, tc.plan, nil)
			msg, errno := r.errorLine(t)
			if msg != tc.msg || errno != int(tc.errno) {
				t.Errorf("error %q errno %d, want %q errno %d", msg, errno, tc.msg, int(tc.errno))
			}
			if r.status != 1 || r.stdout != "" {
				t.Errorf("status %d, output %q: want 1 and nothing run", r.status, r.stdout)
			}
		})
	}
}
