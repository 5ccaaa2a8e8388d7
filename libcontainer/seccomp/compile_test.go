package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// run interprets prog as the kernel does for one syscall: classic BPF over
// struct seccomp_data, of which the compiler uses only absolute word loads,
// AND, the four jumps and returns.
func run(t *testing.T, prog []unix.SockFilter, auditArch, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], auditArch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K+4 > uint32(len(data)) {
				t.Fatalf("pc %d: load at %d", pc, in.K)
			}
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			var ok bool
			switch in.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				ok = acc == in.K
			case unix.BPF_JGT:
				ok = acc > in.K
			case unix.BPF_JGE:
				ok = acc >= in.K
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("pc %d: unexpected instruction %#x", pc, in.Code)
		}
	}
	t.Fatal("ran off the end of the program")
	return 0
}

var amd64 = familyOf("amd64")

func compile(t *testing.T, profile string, family Family) *Filter {
	t.Helper()
	var p specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(profile), &p); err != nil {
		t.Fatal(err)
	}
	f, err := Compile(&p, family)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return f
}

func nr(t *testing.T, a *arch, name string) uint32 {
	t.Helper()
	n, ok := a.number(name)
	if !ok {
		t.Fatalf("%s has no %s", a.name, name)
	}
	return n
}

const (
	allow = retAllow
	eperm = retErrno | 1
)

func TestCompileDecisions(t *testing.T) {
	type call struct {
		arch *arch
		name string
		args [6]uint64
		want uint32
	}
	big := uint64(0x1_0000_0005)
	for _, c := range []struct {
		name    string
		profile string
		calls   []call
	}{
		{"allow list, default errno", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
			"syscalls":[{"names":["read","write","getpid"],"action":"SCMP_ACT_ALLOW"}]}`, []call{
			{archX86_64, "read", [6]uint64{}, allow},
			{archX86_64, "getpid", [6]uint64{}, allow},
			{archX86_64, "close", [6]uint64{}, eperm},
			{archX86, "write", [6]uint64{}, allow},
			{archX86, "close", [6]uint64{}, eperm},
			{archX32, "read", [6]uint64{}, allow},
			{archX32, "close", [6]uint64{}, eperm},
		}},
		{"default errno with its own errno, rule errno", `{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,
			"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["write"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`, []call{
			{archX86_64, "read", [6]uint64{}, allow},
			{archX86_64, "write", [6]uint64{}, retErrno | 13},
			{archX86_64, "close", [6]uint64{}, retErrno | 38},
		}},
		{"every action", `{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","syscalls":[
			{"names":["read"],"action":"SCMP_ACT_KILL"},{"names":["write"],"action":"SCMP_ACT_KILL_PROCESS"},
			{"names":["close"],"action":"SCMP_ACT_KILL_THREAD"},{"names":["getpid"],"action":"SCMP_ACT_TRAP"},
			{"names":["getuid"],"action":"SCMP_ACT_TRACE","errnoRet":7},{"names":["getgid"],"action":"SCMP_ACT_LOG"},
			{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"},{"names":["rmdir"],"action":"SCMP_ACT_ERRNO"}]}`, []call{
			{archX86_64, "read", [6]uint64{}, retKillThread},
			{archX86_64, "write", [6]uint64{}, retKillProcess},
			{archX86_64, "close", [6]uint64{}, retKillThread},
			{archX86_64, "getpid", [6]uint64{}, retTrap},
			{archX86_64, "getuid", [6]uint64{}, retTrace | 7},
			{archX86_64, "getgid", [6]uint64{}, retLog},
			{archX86_64, "mkdir", [6]uint64{}, retUserNotif},
			{archX86_64, "rmdir", [6]uint64{}, eperm},
			{archX86_64, "openat", [6]uint64{}, allow},
		}},
		{"architecture not listed is killed", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]}`, []call{
			{archX86_64, "read", [6]uint64{}, allow},
			{archX86, "read", [6]uint64{}, badArch},
			{archX32, "read", [6]uint64{}, badArch},
		}},
		{"no architectures: the native one", `{"defaultAction":"SCMP_ACT_ALLOW"}`, []call{
			{archX86_64, "read", [6]uint64{}, allow},
			{archX86, "read", [6]uint64{}, badArch},
		}},
		{"64-bit comparisons", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
			{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967301,"op":"SCMP_CMP_EQ"}]},
			{"names":["write"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":4294967301,"op":"SCMP_CMP_NE"}]},
			{"names":["close"],"action":"SCMP_ACT_ERRNO","args":[{"index":2,"value":4294967301,"op":"SCMP_CMP_GT"}]},
			{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{"index":3,"value":4294967301,"op":"SCMP_CMP_GE"}]},
			{"names":["getuid"],"action":"SCMP_ACT_ERRNO","args":[{"index":4,"value":4294967301,"op":"SCMP_CMP_LT"}]},
			{"names":["getgid"],"action":"SCMP_ACT_ERRNO","args":[{"index":5,"value":4294967301,"op":"SCMP_CMP_LE"}]}]}`, []call{
			{archX86_64, "read", [6]uint64{big}, eperm},
			{archX86_64, "read", [6]uint64{5}, allow}, // same low word
			{archX86_64, "read", [6]uint64{big + 1<<32}, allow},
			{archX86_64, "write", [6]uint64{0, big}, allow},
			{archX86_64, "write", [6]uint64{0, 5}, eperm},
			{archX86_64, "write", [6]uint64{0, big + 1}, eperm},
			{archX86_64, "close", [6]uint64{0, 0, big}, allow},
			{archX86_64, "close", [6]uint64{0, 0, big + 1}, eperm},
			{archX86_64, "close", [6]uint64{0, 0, 1 << 33}, eperm},    // higher high word, lower low word
			{archX86_64, "close", [6]uint64{0, 0, 0xffffffff}, allow}, // lower high word, higher low word
			{archX86_64, "getpid", [6]uint64{0, 0, 0, big}, eperm},
			{archX86_64, "getpid", [6]uint64{0, 0, 0, big - 1}, allow},
			{archX86_64, "getpid", [6]uint64{0, 0, 0, 0xffffffff}, allow},
			{archX86_64, "getuid", [6]uint64{0, 0, 0, 0, big}, allow},
			{archX86_64, "getuid", [6]uint64{0, 0, 0, 0, big - 1}, eperm},
			{archX86_64, "getuid", [6]uint64{0, 0, 0, 0, 0xffffffff}, eperm},
			{archX86_64, "getuid", [6]uint64{0, 0, 0, 0, 1 << 33}, allow},
			{archX86_64, "getgid", [6]uint64{0, 0, 0, 0, 0, big}, eperm},
			{archX86_64, "getgid", [6]uint64{0, 0, 0, 0, 0, big + 1}, allow},
			{archX86_64, "getgid", [6]uint64{0, 0, 0, 0, 0, 6}, eperm},
		}},
		{"masked equality", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
			{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
			{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744069414584320,"valueTwo":8589934592,"op":"SCMP_CMP_MASKED_EQ"}]}]}`, []call{
			{archX86_64, "clone", [6]uint64{0x11}, eperm},               // no namespace flag
			{archX86_64, "clone", [6]uint64{unix.CLONE_NEWUSER}, allow}, // a namespace flag
			{archX86_64, "read", [6]uint64{2<<32 | 77}, eperm},          // high word 2, low word masked out
			{archX86_64, "read", [6]uint64{3 << 32}, allow},
		}},
		{"32-bit architectures compare the low word", `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[
			{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]},
			{"names":["write"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":10,"op":"SCMP_CMP_LT"},{"index":1,"value":3,"op":"SCMP_CMP_GE"}]}]}`, []call{
			{archX86, "read", [6]uint64{0xffffffff}, eperm},
			{archX86, "read", [6]uint64{1}, allow},
			{archX86, "write", [6]uint64{9, 3}, eperm},
			{archX86, "write", [6]uint64{10, 3}, allow},
			{archX86, "write", [6]uint64{9, 2}, allow},
		}},
		{"several args ANDed, several rules ORed", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
			{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
			{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
			{"names":["socket"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":1,"op":"SCMP_CMP_EQ"}]},
			{"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":3,"args":[{"index":1,"value":9,"op":"SCMP_CMP_EQ"}]},
			{"names":["kill"],"action":"SCMP_ACT_KILL","args":[{"index":1,"value":10,"op":"SCMP_CMP_EQ"}]}]}`, []call{
			{archX86_64, "personality", [6]uint64{0}, allow},
			{archX86_64, "personality", [6]uint64{8}, allow},
			{archX86_64, "personality", [6]uint64{9}, eperm},
			{archX86_64, "socket", [6]uint64{1, 1}, allow},
			{archX86_64, "socket", [6]uint64{1, 2}, eperm},
			{archX86_64, "socket", [6]uint64{2, 1}, eperm},
			{archX86_64, "kill", [6]uint64{1, 9}, retErrno | 3},
			{archX86_64, "kill", [6]uint64{1, 10}, retKillThread},
			{archX86_64, "kill", [6]uint64{1, 15}, eperm},
		}},
		{"rules taken as libseccomp adds them", `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
			{"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":3,"args":[{"index":1,"value":9,"op":"SCMP_CMP_EQ"}]},
			{"names":["kill"],"action":"SCMP_ACT_ALLOW"},
			{"names":["setns","getpid"],"action":"SCMP_ACT_ALLOW"},
			{"names":["setns"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
			{"names":["getpid"],"action":"SCMP_ACT_ERRNO","errnoRet":5,"args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
			{"names":["getuid"],"action":"SCMP_ACT_ERRNO"},
			{"names":["getuid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":7,"op":"SCMP_CMP_EQ"}]}]}`, []call{
			{archX86_64, "kill", [6]uint64{1, 9}, allow}, // the unconditional rule replaced the conditional one
			{archX86_64, "setns", [6]uint64{}, allow},    // the first unconditional rule stays (Podman's profile)
			{archX86_64, "getpid", [6]uint64{0}, allow},  // nothing is added after an unconditional rule
			{archX86_64, "getuid", [6]uint64{7}, allow},  // a rule with the default action is redundant
			{archX86_64, "getuid", [6]uint64{8}, eperm},
		}},
		{"syscalls newer than the profile's fail with ENOSYS", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
			"syscalls":[{"names":["read","openat2"],"action":"SCMP_ACT_ALLOW"}]}`, []call{
			{archX86_64, "openat2", [6]uint64{}, allow},
			{archX86_64, "close", [6]uint64{}, eperm},                  // older, not named
			{archX86_64, "faccessat2", [6]uint64{}, retErrno | enosys}, // newer than openat2
			{archX86_64, "clone3", [6]uint64{}, eperm},                 // 435 < openat2's 437
			{archX86, "faccessat2", [6]uint64{}, retErrno | enosys},
			{archX32, "faccessat2", [6]uint64{}, retErrno | enosys},
			{archX32, "close", [6]uint64{}, eperm},
		}},
		{"no ENOSYS when the default allows", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO"}]}`, []call{
			{archX86_64, "read", [6]uint64{}, eperm},
			{archX86_64, "openat2", [6]uint64{}, allow},
		}},
		{"names unknown to an architecture are skipped there", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
			"syscalls":[{"names":["arch_prctl","socketcall","no_such_syscall","read"],"action":"SCMP_ACT_ALLOW"}]}`, []call{
			{archX86_64, "arch_prctl", [6]uint64{}, allow},
			{archX86, "socketcall", [6]uint64{}, allow},
			{archX86, "read", [6]uint64{}, allow},
		}},
		{"aarch64 with arm", `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM","SCMP_ARCH_X86_64"],
			"syscalls":[{"names":["write"],"action":"SCMP_ACT_ALLOW"}]}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			family := amd64
			if strings.Contains(c.name, "aarch64") {
				family = familyOf("arm64")
				c.calls = []call{
					{archAarch64, "write", [6]uint64{}, allow},
					{archAarch64, "read", [6]uint64{}, eperm},
					{archArm, "write", [6]uint64{}, allow},
					{archArm, "read", [6]uint64{}, eperm},
					{archX86_64, "write", [6]uint64{}, badArch},
				}
			}
			f := compile(t, c.profile, family)
			for _, k := range c.calls {
				if got := run(t, f.Program, k.arch.audit, nr(t, k.arch, k.name), k.args); got != k.want {
					t.Errorf("%s %s%v: %#x, want %#x", k.arch.name, k.name, k.args, got, k.want)
				}
			}
		})
	}
}

// TestCompileX32Split: on x86_64's audit architecture, a number with the
// x32 bit is an x32 syscall; without x32 in the profile it is killed.
func TestCompileX32Split(t *testing.T) {
	f := compile(t, `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]}`, amd64)
	if got := run(t, f.Program, auditX86_64, x32Bit|0, [6]uint64{}); got != badArch {
		t.Errorf("x32 read without x32 in the profile: %#x, want the bad-architecture kill", got)
	}
}

// TestCompileLargeProfile: a profile the size of Docker's (hundreds of
// syscalls) needs the long jumps, and still decides right at both ends.
func TestCompileLargeProfile(t *testing.T) {
	var names []string
	for _, s := range syscallsX86_64 {
		if s.name != "reboot" && s.name != "personality" {
			names = append(names, fmt.Sprintf("%q", s.name))
		}
	}
	profile := `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
		"syscalls":[{"names":[` + strings.Join(names, ",") + `],"action":"SCMP_ACT_ALLOW"},
		{"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]}]}`
	f := compile(t, profile, amd64)
	if len(f.Program) > MaxInstructions {
		t.Fatalf("%d instructions", len(f.Program))
	}
	for _, c := range []struct {
		arch *arch
		name string
		args [6]uint64
		want uint32
	}{
		{archX86_64, "read", [6]uint64{}, allow},
		{archX86_64, "reboot", [6]uint64{}, eperm},
		{archX86_64, "personality", [6]uint64{8}, eperm},
		{archX86_64, "personality", [6]uint64{0}, allow},
		{archX86_64, "personality", [6]uint64{8}, eperm},
		{archX86, "reboot", [6]uint64{}, eperm},
		{archX86, "read", [6]uint64{}, allow},
		{archX32, "reboot", [6]uint64{}, eperm},
		{archX32, "read", [6]uint64{}, allow},
	} {
		if got := run(t, f.Program, c.arch.audit, nr(t, c.arch, c.name), c.args); got != c.want {
			t.Errorf("%s %s: %#x, want %#x", c.arch.name, c.name, got, c.want)
		}
	}
	for _, s := range syscallsX86_64 {
		want := uint32(allow)
		if s.name == "reboot" || s.name == "personality" {
			continue
		}
		if got := run(t, f.Program, auditX86_64, s.nr, [6]uint64{}); got != want {
			t.Errorf("x86_64 %s: %#x, want allow", s.name, got)
		}
	}
}

func TestCompileBadInput(t *testing.T) {
	for _, c := range []struct{ profile, want string }{
		{`{"defaultAction":"SCMP_ACT_MAYBE"}`, `linux.seccomp.defaultAction: unknown action "SCMP_ACT_MAYBE"`},
		{`{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"}`, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}`, "linux.seccomp.defaultAction: errnoRet is set, but SCMP_ACT_ALLOW returns no errno"},
		{`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}`, "errnoRet 70000 is more than the largest errno"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_Z80"]}`, `linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_Z80"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_FAST"]}`, `linux.seccomp.flags[0]: unknown flag`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOPE"}]}`, `linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_NOPE"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}`, "linux.seccomp.syscalls[0].names: empty"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_KILL","errnoRet":1}]}`, "linux.seccomp.syscalls[0].action: errnoRet is set"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`, "linux.seccomp.syscalls[0].args[0].index: 6"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}`, `linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_ABOUT"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}`, "SCMP_ACT_NOTIFY needs a listenerPath"},
		{`{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x","syscalls":[{"names":["mkdir","write"],"action":"SCMP_ACT_NOTIFY"}]}`, `linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY on "write"`},
		{`{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x"}`, "linux.seccomp.listenerPath: set, but no rule returns SCMP_ACT_NOTIFY"},
	} {
		var p specs.LinuxSeccomp
		if err := json.Unmarshal([]byte(c.profile), &p); err != nil {
			t.Fatal(err)
		}
		_, err := Compile(&p, amd64)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.profile, err, c.want)
		}
	}
}

// TestCompileTooLarge: a profile beyond the kernel's 4096 instructions is
// refused, naming the count.
func TestCompileTooLarge(t *testing.T) {
	var rules []string
	for i := 0; i < 1000; i++ {
		rules = append(rules, fmt.Sprintf(`{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":%d,"op":"SCMP_CMP_EQ"}]}`, i))
	}
	var p specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[`+strings.Join(rules, ",")+`]}`), &p); err != nil {
		t.Fatal(err)
	}
	_, err := Compile(&p, amd64)
	if err == nil || !strings.Contains(err.Error(), "more than the kernel's limit of 4096") {
		t.Fatalf("1000 conditional rules: %v, want the instruction limit", err)
	}
}

func TestUnknownNames(t *testing.T) {
	f := compile(t, `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read","no_such_syscall","socketcall"],"action":"SCMP_ACT_ERRNO"}]}`, amd64)
	if strings.Join(f.Unknown, ",") != "no_such_syscall,socketcall" {
		t.Errorf("unknown names: %v", f.Unknown)
	}
}

func TestFlags(t *testing.T) {
	f := compile(t, `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}`, amd64)
	if f.Flags != FlagTsync|FlagLog|FlagSpecAllow|FlagWaitKillableRecv {
		t.Errorf("flags %#x", f.Flags)
	}
}

// TestCompileArmPrivate: arm's private syscalls (__ARM_NR_*) are known, so
// that Docker's profile, which allows set_tls and cacheflush, allows them
// to a 32-bit arm program on an arm64 machine.
func TestCompileArmPrivate(t *testing.T) {
	f := compile(t, `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],
		"syscalls":[{"names":["set_tls","cacheflush","read"],"action":"SCMP_ACT_ALLOW"}]}`, familyOf("arm64"))
	for _, name := range []string{"set_tls", "cacheflush", "read"} {
		if got := run(t, f.Program, archArm.audit, nr(t, archArm, name), [6]uint64{}); got != allow {
			t.Errorf("arm %s: %#x, want allow", name, got)
		}
	}
	if len(f.Unknown) != 2 { // set_tls and cacheflush are arm's alone
		t.Errorf("unknown on aarch64: %v", f.Unknown)
	}
}

// TestCompileX86Multiplexers: on x86 a rule on a socket or SysV IPC call
// also decides the call made through socketcall(2) or ipc(2), as
// libseccomp makes it.
func TestCompileX86Multiplexers(t *testing.T) {
	f := compile(t, `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
		"syscalls":[{"names":["socket","shmget"],"action":"SCMP_ACT_ERRNO"}]}`, amd64)
	sc, ipc := nr(t, archX86, "socketcall"), nr(t, archX86, "ipc")
	for _, c := range []struct {
		nr   uint32
		args [6]uint64
		want uint32
	}{
		{nr(t, archX86, "socket"), [6]uint64{}, eperm},
		{sc, [6]uint64{1}, eperm},   // SYS_SOCKET
		{sc, [6]uint64{3}, allow},   // SYS_CONNECT
		{ipc, [6]uint64{23}, eperm}, // SHMGET
		{ipc, [6]uint64{21}, allow}, // SHMAT
	} {
		if got := run(t, f.Program, auditI386, c.nr, c.args); got != c.want {
			t.Errorf("x86 %d%v: %#x, want %#x", c.nr, c.args, got, c.want)
		}
	}
	// x86_64 has no multiplexers: its socket rule stands alone.
	if got := run(t, f.Program, auditX86_64, nr(t, archX86_64, "socket"), [6]uint64{}); got != eperm {
		t.Errorf("x86_64 socket: %#x", got)
	}
}

// TestCompileTraceDefaultNoENOSYS: with a tracing default, as with an
// allowing one, syscalls newer than the profile's go to the default.
func TestCompileTraceDefaultNoENOSYS(t *testing.T) {
	f := compile(t, `{"defaultAction":"SCMP_ACT_TRACE","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`, amd64)
	if got := run(t, f.Program, auditX86_64, nr(t, archX86_64, "openat2"), [6]uint64{}); got != retTrace|1 {
		t.Errorf("openat2 under a tracing default: %#x", got)
	}
}

// TestActionsAndOperatorsCompile: what the package lists (and kan
// features claims), it compiles.
func TestActionsAndOperatorsCompile(t *testing.T) {
	for _, a := range Actions {
		if _, err := action(a, nil, "x"); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, op := range Operators {
		if !knownOp(op) {
			t.Errorf("%s not known", op)
		}
	}
	names, values := ProfileFlags()
	for i, n := range names {
		if v, ok := flagValue(specs.LinuxSeccompFlag(n)); !ok || v != values[i] {
			t.Errorf("flag %s: %#x, %v", n, v, ok)
		}
	}
}
