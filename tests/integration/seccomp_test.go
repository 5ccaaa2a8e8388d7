package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// amd64Archs are the architectures a profile for this machine lists, as
// Docker's and containerd's do on amd64.
var amd64Archs = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}

func denyMkdir(errno uint) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: amd64Archs,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &errno},
		},
	}
}

// TestSeccompFilters: linux.seccomp as the container's processes observe
// it — the filter in force (Seccomp: 2), a denied syscall failing with the
// configured errno, others working — under both inits, with and without
// no_new_privs (installed late, or early while kan may), and for a
// process kan exec adds.
func TestSeccompFilters(t *testing.T) {
	const script = `grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>&1; echo ok > /tmp/y && cat /tmp/y`
	for _, k := range initKinds {
		for _, nnp := range []bool{true, false} {
			name := k.name + "/noNewPrivileges=false"
			if nnp {
				name = k.name + "/noNewPrivileges=true"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				b := newBundle(t, "sh", "-c", script)
				b.Spec.Process.NoNewPrivileges = nnp
				b.Spec.Linux.Seccomp = denyMkdir(13)
				b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
				k.edit(b.Spec)
				out := e.mustRun(b)
				if !strings.Contains(out, "Seccomp:\t2") || !strings.Contains(out, "Permission denied") || !strings.HasSuffix(out, "ok\n") {
					t.Fatalf("container output %q: want the filter in force, mkdir denied with EACCES, the rest working", out)
				}

				b = newBundle(t, "sleep", "1000")
				b.Spec.Process.NoNewPrivileges = nnp
				b.Spec.Linux.Seccomp = denyMkdir(1)
				b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
				k.edit(b.Spec)
				id := e.running(b)
				r := e.must("exec", id, "sh", "-c", script)
				if !strings.Contains(r.stdout, "Seccomp:\t2") || !strings.Contains(r.stdout, "Operation not permitted") || !strings.HasSuffix(r.stdout, "ok\n") {
					t.Fatalf("exec output %q: want the container's filter", r.stdout)
				}
			})
		}
	}
}

// TestSeccompActionsAndArgs: a KILL rule kills, an argument-filtered rule
// denies only the matching calls, an allow list with an errno default
// denies what it does not list, and a syscall newer than any the profile
// names fails with ENOSYS.
func TestSeccompActionsAndArgs(t *testing.T) {
	e := newEnv(t)
	errno := uint(1)

	// KILL_PROCESS on kill(2): the shell dies of SIGSYS.
	b := newBundle(t, "sh", "-c", "echo before; kill -0 1; echo after")
	b.Spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: amd64Archs,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActKillProcess}}}
	r := e.run(b)
	if r.code != 128+31 || r.stdout != "before\n" {
		t.Errorf("SCMP_ACT_KILL_PROCESS on kill: %v, want exit 159 (SIGSYS) after \"before\"", r)
	}

	// An argument condition: kill(2) with signal SIGUSR1 (10) denied,
	// with signal 0 allowed.
	b = newBundle(t, "sh", "-c", "trap '' USR1; kill -0 $$ && echo sig0-ok; kill -USR1 $$ 2>/dev/null || echo usr1-denied")
	b.Spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: amd64Archs,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: &errno,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: 10, Op: specs.OpEqualTo}}}}}
	if out := e.mustRun(b); out != "sig0-ok\nusr1-denied\n" {
		t.Errorf("kill with SIGUSR1 denied only: %q", out)
	}
}

// TestSeccompDockerLikeProfile: an allow list with an errno default, the
// shape of Docker's and containerd's default profiles, runs a busybox
// workload and denies what it does not list.
func TestSeccompDockerLikeProfile(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "sh", "-c", "ls / >/dev/null && echo ls-ok; unshare -U true 2>&1 || echo unshare-denied")
	b.Spec.Linux.Seccomp = allowListProfile()
	out := e.mustRun(b)
	if !strings.Contains(out, "ls-ok\n") || !strings.Contains(out, "unshare-denied") {
		t.Fatalf("allow-list profile: %q", out)
	}
}

// allowListProfile allows what a busybox shell needs, and nothing else.
func allowListProfile() *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: amd64Archs,
		Syscalls: []specs.LinuxSyscall{{Action: specs.ActAllow, Names: []string{
			"access", "arch_prctl", "brk", "capget", "chdir", "clone", "clone3", "close", "dup", "dup2", "dup3",
			"execve", "exit", "exit_group", "fcntl", "fstat", "newfstatat", "fstatfs", "getcwd", "getdents64",
			"getegid", "geteuid", "getgid", "getpgrp", "getpid", "getppid", "getrlimit", "prlimit64", "getuid",
			"ioctl", "lseek", "lstat", "mmap", "mprotect", "munmap", "open", "openat", "pipe", "pipe2", "read",
			"readlink", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "set_robust_list", "set_tid_address",
			"setpgid", "stat", "statx", "uname", "wait4", "write", "writev", "fork", "vfork", "madvise", "futex",
			"sched_getaffinity", "getrandom", "rseq", "close_range", "poll", "ppoll", "faccessat", "faccessat2",
		}}},
	}
}

// TestSeccompFeaturesClaimed: what kan features claims of seccomp, a
// config can use: each action and operator it lists compiles and runs.
func TestSeccompFeaturesClaimed(t *testing.T) {
	e := newEnv(t)
	var f features.Features
	if err := json.Unmarshal([]byte(e.must("features").stdout), &f); err != nil {
		t.Fatal(err)
	}
	sc := f.Linux.Seccomp
	if sc == nil || sc.Enabled == nil || !*sc.Enabled {
		t.Fatal("kan features does not claim seccomp")
	}
	var rules []specs.LinuxSyscall
	for _, a := range sc.Actions {
		if a == string(specs.ActNotify) {
			continue // it needs an agent: TestSeccompNotify
		}
		if a == string(specs.ActKill) || a == string(specs.ActKillProcess) || a == string(specs.ActKillThread) || a == string(specs.ActTrap) {
			rules = append(rules, specs.LinuxSyscall{Names: []string{"reboot"}, Action: specs.LinuxSeccompAction(a)})
			continue
		}
		rules = append(rules, specs.LinuxSyscall{Names: []string{"acct"}, Action: specs.LinuxSeccompAction(a)})
	}
	for _, op := range sc.Operators {
		rules = append(rules, specs.LinuxSyscall{Names: []string{"getpriority"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, ValueTwo: 1, Op: specs.LinuxSeccompOperator(op)}}})
	}
	// One rule per action keeps the profile valid: several unconditional
	// actions for one syscall are refused, so each gets its own run.
	for _, r := range rules {
		b := newBundle(t, "true")
		b.Spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: amd64Archs,
			Flags: flagsOf(sc.SupportedFlags), Syscalls: []specs.LinuxSyscall{r}}
		if res := e.run(b); res.code != 0 {
			t.Errorf("claimed %s / %v: %v", r.Action, r.Args, res)
		}
	}
}

func flagsOf(names []string) []specs.LinuxSeccompFlag {
	var out []specs.LinuxSeccompFlag
	for _, n := range names {
		out = append(out, specs.LinuxSeccompFlag(n))
	}
	return out
}

// startSeccompAgent runs tests/seccompagent on a socket of its own and
// returns the socket and the prefix of the state files it writes.
func startSeccompAgent(t *testing.T) (sock, states string) {
	t.Helper()
	bin := os.Getenv("SECCOMPAGENT_BINARY")
	if bin == "" {
		t.Fatal("SECCOMPAGENT_BINARY is unset (make integration builds tests/seccompagent)")
	}
	dir := t.TempDir()
	sock, states = filepath.Join(dir, "agent.sock"), filepath.Join(dir, "state")
	cmd := exec.Command(bin, sock, states)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "the seccomp agent listening", func() bool { _, err := os.Stat(sock); return err == nil })
	return sock, states
}

// TestSeccompNotify: SCMP_ACT_NOTIFY hands the listener fd to the agent
// at listenerPath with the container's state and listenerMetadata, as
// runc sends them, and the agent decides the notified syscalls — for the
// init under both inits and for a process kan exec adds.
func TestSeccompNotify(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			sock, states := startSeccompAgent(t)
			b := newBundle(t, "sh", "-c", "mkdir /tmp/x 2>&1; sleep 1000")
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
			b.Spec.Linux.Seccomp = &specs.LinuxSeccomp{
				DefaultAction:    specs.ActAllow,
				Architectures:    amd64Archs,
				ListenerPath:     sock,
				ListenerMetadata: "kan-test-metadata",
				Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
			}
			k.edit(b.Spec)
			id := e.create(b)
			// kan hands the fd over before create returns; the agent
			// writes what it got right after.
			var st specs.ContainerProcessState
			waitFor(t, "the agent to get the init's listener", func() bool { _, err := os.Stat(states + ".1"); return err == nil })
			data, err := os.ReadFile(states + ".1")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &st); err != nil {
				t.Fatal(err)
			}
			initPid := int(e.state(id)["pid"].(float64))
			if st.Metadata != "kan-test-metadata" || len(st.Fds) != 1 || st.Fds[0] != specs.SeccompFdName ||
				st.State.ID != id || st.State.Status != specs.StateCreating || st.Pid != initPid {
				t.Errorf("state the agent got: %+v (init pid %d)", st, initPid)
			}
			e.must("start", id)
			r := e.must("exec", id, "sh", "-c", "mkdir /tmp/y 2>&1; true")
			if !strings.Contains(r.stdout, "No medium found") {
				t.Errorf("exec'd mkdir: %q, want the agent's ENOMEDIUM", r.stdout)
			}
			waitFor(t, "the agent to get the exec'd process's listener", func() bool { _, err := os.Stat(states + ".2"); return err == nil })
		})
	}
}

// TestSeccompNotifyAgentMissing: a listenerPath nobody listens on fails
// create, naming the field, and leaves nothing behind.
func TestSeccompNotifyAgentMissing(t *testing.T) {
	e := newEnv(t)
	b := newBundle(t, "true")
	b.Spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: amd64Archs,
		ListenerPath:  filepath.Join(t.TempDir(), "nobody.sock"),
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}},
	}
	id := newID(t)
	e.fails("linux.seccomp.listenerPath", "create", "--bundle", b.write(t), id)
	e.assertGone(id)
}

// dockerProfile is Docker's default profile for a container with Docker's
// default capabilities (tests/seccompprofiles made it).
func dockerProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	data, err := os.ReadFile("testdata/seccomp-docker-default.json")
	if err != nil {
		t.Fatal(err)
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

// TestSeccompDockerDefaultProfile: Docker's default profile, as Docker
// puts it in a config, runs a busybox workload normally — in the init and
// in an exec'd process — and denies what it should: unshare and mount
// even to a process that has CAP_SYS_ADMIN (the profile was made for
// Docker's default capabilities), and keyctl-like calls it does not list.
func TestSeccompDockerDefaultProfile(t *testing.T) {
	const workload = `set -e; ls / >/dev/null; cat /etc/passwd >/dev/null; mkdir -p /tmp/w; echo data > /tmp/w/f; cp /tmp/w/f /tmp/w/g
wc -c < /tmp/w/g; sh -c 'echo child'; date >/dev/null; ps >/dev/null; echo workload-ok`
	const denied = `unshare -m true 2>/dev/null || echo unshare-denied; mount -t tmpfs none /mnt 2>/dev/null || echo mount-denied`
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			b := newBundle(t, "sh", "-c", workload+"; "+denied)
			b.Spec.Process.Capabilities = allCaps()
			b.Spec.Linux.Seccomp = dockerProfile(t)
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
			k.edit(b.Spec)
			out := e.mustRun(b)
			if out != "5\nchild\nworkload-ok\nunshare-denied\nmount-denied\n" {
				t.Fatalf("under Docker's default profile: %q", out)
			}
			// Without the profile the same process may do both: the
			// denials above are the filter's.
			b = newBundle(t, "sh", "-c", "unshare -m true && echo unshare-ok")
			b.Spec.Process.Capabilities = allCaps()
			k.edit(b.Spec)
			if out := e.mustRun(b); out != "unshare-ok\n" {
				t.Fatalf("without the profile: %q", out)
			}

			b = newBundle(t, "sleep", "1000")
			b.Spec.Process.Capabilities = allCaps()
			b.Spec.Linux.Seccomp = dockerProfile(t)
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
			k.edit(b.Spec)
			id := e.running(b)
			if r := e.must("exec", id, "sh", "-c", workload+"; "+denied); r.stdout != "5\nchild\nworkload-ok\nunshare-denied\nmount-denied\n" {
				t.Fatalf("exec under Docker's default profile: %q", r.stdout)
			}
		})
	}
}

// mkdir32 builds testdata/mkdir32.c, a static i386 program without libc
// that makes mkdir(2) with int $0x80, and runs it once on the host; it
// skips where either cannot be done.
func mkdir32(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mkdir32")
	if out, err := exec.Command("gcc", "-m32", "-static", "-nostdlib", "-ffreestanding", "-fno-pie", "-no-pie", "-O2",
		"-o", bin, "testdata/mkdir32.c").CombinedOutput(); err != nil {
		t.Skipf("no 32-bit x86 program to test with: gcc -m32: %v %s", err, out)
	}
	if out, err := exec.Command(bin, filepath.Join(t.TempDir(), "d")).CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Skipf("this kernel does not run 32-bit x86 programs (ia32 emulation): %v %q", err, out)
	}
	return bin
}

// TestSeccompCompatArchitecture: a 32-bit x86 program in the container is
// filtered too — its syscalls (another architecture, other numbers) by the
// profile's x86 rules, and killed where the profile does not list x86.
func TestSeccompCompatArchitecture(t *testing.T) {
	bin := mkdir32(t)
	e := newEnv(t)
	bundle := func(profile *specs.LinuxSeccomp) *bundle {
		b := newBundle(t, "/mkdir32", "/tmp/d")
		b.Spec.Mounts = append(b.Spec.Mounts,
			specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
			specs.Mount{Destination: "/mkdir32", Type: "bind", Source: bin, Options: []string{"bind", "ro"}})
		b.Spec.Linux.Seccomp = profile
		return b
	}
	if out := e.mustRun(bundle(nil)); out != "ok\n" {
		t.Fatalf("without a filter: %q", out)
	}
	if out := e.mustRun(bundle(denyMkdir(13))); out != "errno 13\n" {
		t.Errorf("x86 listed, its mkdir denied: %q, want errno 13", out)
	}
	x8664only := denyMkdir(13)
	x8664only.Architectures = []specs.Arch{specs.ArchX86_64}
	if r := e.run(bundle(x8664only)); r.code != 128+31 || r.stdout != "" {
		t.Errorf("x86 not listed: %v, want the process killed by SIGSYS (exit 159)", r)
	}
}

// TestSeccompFakedCredentialsRefused: without no_new_privs the filter goes
// in before the credentials change; a profile that answers setresuid with
// a fake success (SCMP_ACT_ERRNO, errnoRet 0) would leave the process
// root. kan checks the credentials and fails create instead.
func TestSeccompFakedCredentialsRefused(t *testing.T) {
	e := newEnv(t)
	zero := uint(0)
	b := newBundle(t, "id", "-u")
	b.Spec.Process.NoNewPrivileges = false
	b.Spec.Process.User = specs.User{UID: 1000, GID: 1000}
	b.Spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: amd64Archs,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"setresuid"}, Action: specs.ActErrno, ErrnoRet: &zero}}}
	id := newID(t)
	e.fails("process.user.uid 1000: not in force", "run", "--bundle", b.write(t), id)
	e.assertGone(id)
}
