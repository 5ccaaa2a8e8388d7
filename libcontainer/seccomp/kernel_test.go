package seccomp

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The kernel's own word on a compiled filter: a child of the test installs
// it and makes syscalls that it decides on. This checks what the
// interpreter in compile_test.go cannot: that the kernel accepts the
// program, and reads seccomp_data as the compiler lays it out.

const childEnv = "KAN_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if profile := os.Getenv(childEnv); profile != "" {
		os.Exit(child(profile))
	}
	os.Exit(m.Run())
}

// child installs the filter compiled from profile and prints the errno of
// each probe.
func child(profile string) int {
	var p specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(profile), &p); err != nil {
		fmt.Println(err)
		return 1
	}
	f, err := Compile(&p, Native())
	if err != nil {
		fmt.Println(err)
		return 1
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println(err)
		return 1
	}
	prog := unix.SockFprog{Len: uint16(len(f.Program)), Filter: &f.Program[0]}
	// TSYNC: every thread of the Go runtime gets the filter.
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, 1 /* SECCOMP_SET_MODE_FILTER */, FlagTsync, uintptr(unsafe.Pointer(&prog))); e != 0 {
		fmt.Println("seccomp:", e)
		return 1
	}
	probe := func(name string, nr uintptr, args ...uintptr) {
		var a [6]uintptr
		copy(a[:], args)
		_, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		fmt.Printf("%s=%d\n", name, int(e))
	}
	probe("getppid", unix.SYS_GETPPID)
	probe("getpriority-low", unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, 0)
	probe("getpriority-high", unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, 1<<32)
	probe("fchdir-masked", unix.SYS_FCHDIR, 0x7f00_0000_0000_1234)
	probe("fchdir-unmasked", unix.SYS_FCHDIR, 0x1234)
	return 0
}

func TestKernelAcceptsAndDecides(t *testing.T) {
	if Native() == nil {
		t.Skip("kan has no syscall tables for " + runtime.GOARCH)
	}
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],"syscalls":[
		{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":13},
		{"names":["getpriority"],"action":"SCMP_ACT_ERRNO","errnoRet":7,"args":[{"index":1,"value":4294967296,"op":"SCMP_CMP_EQ"}]},
		{"names":["fchdir"],"action":"SCMP_ACT_ERRNO","errnoRet":33,"args":[{"index":0,"value":18446744069414584320,"valueTwo":9151314442816847872,"op":"SCMP_CMP_MASKED_EQ"}]}]}`
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+profile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, "=")
		got[k] = v
	}
	for probe, want := range map[string]string{
		"getppid":          "13", // errno of the rule
		"getpriority-low":  "0",  // same low word, other high word: allowed
		"getpriority-high": "7",
		"fchdir-masked":    "33",
		"fchdir-unmasked":  "9", // EBADF from the kernel itself
	} {
		if got[probe] != want {
			t.Errorf("%s: errno %s, want %s (output %q)", probe, got[probe], want, out)
		}
	}
}

// TestCheckFlags: each flag a profile may name is taken alone where this
// kernel has it (WAIT_KILLABLE_RECV, which needs a listener, included).
func TestCheckFlags(t *testing.T) {
	names, values := ProfileFlags()
	for i, v := range values {
		err := CheckFlags(v)
		var probe uintptr = uintptr(v)
		if v == FlagWaitKillableRecv {
			probe |= FlagNewListener
		}
		_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, seccompSetModeFilter, probe, 0)
		if has := e == unix.EFAULT; has != (err == nil) {
			t.Errorf("%s: CheckFlags %v, the kernel %v", names[i], err, e)
		}
	}
}
