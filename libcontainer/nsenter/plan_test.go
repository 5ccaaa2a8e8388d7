package nsenter

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// u32 reads the uint32 of the fixed part at field's offset.
func u32(buf []byte, field string) uint32 {
	return binary.NativeEndian.Uint32(buf[planField[field]:])
}

func TestMarshalLayout(t *testing.T) {
	umask := uint32(0o7027)
	p := ExecPlan{
		Process: Process{
			UID: 1000, GID: 1001, Groups: []uint32{7, 8}, Umask: &umask,
			Cwd: "/w", Args: []string{"a", "b"}, Env: []string{"X=1"},
			ApparmorProfile: "aa", SelinuxLabel: "se",
			SchedulerDesc: "d0", IOPriorityDesc: "d1", MemoryPolicyDesc: "d2", CPUAffinityDesc: "d3", GroupsDesc: "d4",
		},
		RootFd: -1, ConsoleFd: -1, FirstCloexecFd: 3,
		Seccomp: []unix.SockFilter{
			{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, Jt: 1, Jf: 2, K: 4},
			{Code: unix.BPF_RET | unix.BPF_K, K: 0x7fff0000},
		},
		Init: true, FifoFd: 5, DoneFd: 6, Keyring: "k",
	}
	buf, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(buf) < planFixedSize {
		t.Fatalf("plan of %d bytes, shorter than its fixed part (%d)", len(buf), planFixedSize)
	}
	if m := u32(buf, "magic"); planField["magic"] != 0 || m != 0x6b616e32 {
		t.Errorf("magic %#x at %d, want 0x6b616e32 (\"kan2\") at 0", m, planField["magic"])
	}
	if size := u32(buf, "size"); int(size) != len(buf)-planFixedSize {
		t.Errorf("size %d, but %d bytes follow the fixed part", size, len(buf)-planFixedSize)
	}
	for field, want := range map[string]uint32{
		"uid": 1000, "gid": 1001, "ngroups": 2, "umask": 0o027, "seccomp_len": 2,
		"nargs": 2, "nenv": 1, "first_cloexec_fd": 3, "init": 1, "fifo_fd": 5, "done_fd": 6, "new_keyring": 1,
	} {
		if got := u32(buf, field); got != want {
			t.Errorf("%s = %d, want %d", field, got, want)
		}
	}

	// The variable part: groups, then the instructions as struct
	// sock_filter, then the strings, each NUL-terminated.
	var want []byte
	ne := binary.NativeEndian
	want = ne.AppendUint32(ne.AppendUint32(want, 7), 8)
	want = ne.AppendUint32(append(ne.AppendUint16(want, unix.BPF_LD|unix.BPF_W|unix.BPF_ABS), 1, 2), 4)
	want = ne.AppendUint32(append(ne.AppendUint16(want, unix.BPF_RET|unix.BPF_K), 0, 0), 0x7fff0000)
	want = append(want, "/w\x00a\x00b\x00X=1\x00aa\x00se\x00d0\x00d1\x00d2\x00d3\x00d4\x00k\x00"...)
	if got := buf[planFixedSize:]; !bytes.Equal(got, want) {
		t.Errorf("variable part:\n got %q\nwant %q", got, want)
	}

	// No umask: -1, "keep".
	p.Umask = nil
	if buf, err = p.Marshal(); err != nil {
		t.Fatal(err)
	}
	if got := int32(u32(buf, "umask")); got != -1 {
		t.Errorf("umask without process.user.umask: %d, want -1", got)
	}
}

func TestMarshalLimits(t *testing.T) {
	base := func() ExecPlan {
		return ExecPlan{Process: Process{Cwd: "/", Args: []string{"sh"}}, RootFd: -1, ConsoleFd: -1, FirstCloexecFd: 3}
	}
	// The most of each a plan holds is accepted.
	p := base()
	p.Rlimits = make([]Rlimit, 16)
	p.Seccomp = make([]unix.SockFilter, 4096)
	p.MemoryPolicy = &MemoryPolicy{Nodes: make([]uint64, 16)}
	if _, err := p.Marshal(); err != nil {
		t.Errorf("16 rlimits, 4096 instructions, 1024 nodes: %v", err)
	}

	for _, tc := range []struct {
		name, want string
		change     func(*ExecPlan)
	}{
		{"17 rlimits", "process.rlimits: more than 16", func(p *ExecPlan) { p.Rlimits = make([]Rlimit, 17) }},
		{"4097 instructions", "linux.seccomp: 4097 instructions, more than the kernel's 4096",
			func(p *ExecPlan) { p.Seccomp = make([]unix.SockFilter, 4097) }},
		{"1088 nodes", "linux.memoryPolicy.nodes: more than 1024 nodes",
			func(p *ExecPlan) { p.MemoryPolicy = &MemoryPolicy{Nodes: make([]uint64, 17)} }},
		{"16 MiB of arguments", "process: arguments and environment take",
			func(p *ExecPlan) { p.Args = append(p.Args, strings.Repeat("x", 16<<20)) }},
		{"NUL in cwd", `process.cwd: "/a\x00b" holds a NUL byte`, func(p *ExecPlan) { p.Cwd = "/a\x00b" }},
		{"NUL in an argument", `process.args[1]: "a\x00" holds a NUL byte`, func(p *ExecPlan) { p.Args = append(p.Args, "a\x00") }},
		{"NUL in the environment", `process.env[0]: "A=\x00" holds a NUL byte`, func(p *ExecPlan) { p.Env = []string{"A=\x00"} }},
		{"NUL in the AppArmor profile", `process.apparmorProfile: "\x00" holds`, func(p *ExecPlan) { p.ApparmorProfile = "\x00" }},
		{"NUL in the SELinux label", `process.selinuxLabel: "x\x00" holds`, func(p *ExecPlan) { p.SelinuxLabel = "x\x00" }},
		{"NUL in the keyring", `the session keyring's name: "k\x00" holds`, func(p *ExecPlan) { p.Init, p.Keyring = true, "k\x00" }},
	} {
		p := base()
		tc.change(&p)
		if _, err := p.Marshal(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
}
