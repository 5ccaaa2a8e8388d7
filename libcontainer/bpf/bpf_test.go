package bpf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// TestAssembleMatchesCilium: every instruction this package makes encodes
// to the bytes cilium/ebpf's assembler gives for the same instruction
// (the project used it before; it stays a test-only reference).
func TestAssembleMatchesCilium(t *testing.T) {
	ours := []Instruction{
		LoadMem(R2, R1, 0, Word),
		AndImm(R2, 0xffff),
		LoadMem(R3, R1, 0, Word),
		RShImm(R3, 16),
		LoadMem(R4, R1, 4, Word),
		LoadMem(R5, R1, 8, Word),
		JNEImm(R2, 2, "a"),
		JNEImm32(R4, -1, "a"),          // 0xffffffff as a u32
		JNEImm32(R5, -0x80000000, "b"), // 0x80000000
		AndImm(R3, ^int32(6)),
		JEqImm(R3, 0, "b").WithLabel("a"),
		JSetImm(R3, 5, "b"),
		Ja("c"),
		MovImm(R0, 1).WithLabel("b"),
		Return(),
		MovImm(R0, 0).WithLabel("c"),
		Return(),
	}
	theirs := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm(asm.R3, 16),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
		asm.JNE.Imm(asm.R2, 2, "a"),
		asm.JNE.Imm32(asm.R4, -1, "a"),
		asm.JNE.Imm32(asm.R5, -0x80000000, "b"),
		asm.And.Imm(asm.R3, ^int32(6)),
		asm.JEq.Imm(asm.R3, 0, "b").WithSymbol("a"),
		asm.JSet.Imm(asm.R3, 5, "b"),
		asm.Ja.Label("c"),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("b"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("c"),
		asm.Return(),
	}
	got, err := Assemble(ours)
	if err != nil {
		t.Fatal(err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 {
		order = binary.BigEndian
	}
	var want bytes.Buffer
	if err := theirs.Marshal(&want, order); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		for i := 0; i < len(got) && i < want.Len(); i += InstructionSize {
			g, w := got[i:i+InstructionSize], want.Bytes()[i:i+InstructionSize]
			if !bytes.Equal(g, w) {
				t.Errorf("instruction %d (%v): % x, cilium/ebpf: % x", i/InstructionSize, theirs[i/InstructionSize], g, w)
			}
		}
		t.Fatalf("%d bytes, cilium/ebpf %d", len(got), want.Len())
	}
}

func TestAssembleRefuses(t *testing.T) {
	for name, insns := range map[string][]Instruction{
		"unknown label":  {Ja("nowhere"), Return()},
		"backward jump":  {MovImm(R0, 0).WithLabel("top"), Ja("top"), Return()},
		"jump to itself": {Ja("self").WithLabel("self"), Return()},
		"label twice":    {MovImm(R0, 0).WithLabel("x"), Return().WithLabel("x")},
	} {
		if code, err := Assemble(insns); err == nil {
			t.Errorf("%s: assembled to % x", name, code)
		}
	}
}

// allowAll is a device program that allows everything.
var allowAll = []Instruction{MovImm(R0, 1), Return()}

func load(t *testing.T, name string, insns []Instruction) *Program {
	t.Helper()
	code, err := Assemble(insns)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(ProgTypeCgroupDevice, name, "Apache", code)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestLoadInfo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads a program")
	}
	p := load(t, "kan_bpf_test_long_name", allowAll)
	typ, name, err := p.Info()
	if err != nil {
		t.Fatal(err)
	}
	if typ != ProgTypeCgroupDevice || name != "kan_bpf_test_lo" {
		t.Errorf("type %d name %q, want %d and the name cut to 15 bytes", typ, name, ProgTypeCgroupDevice)
	}
}

// TestLoadVerifierLog: a program the verifier rejects (it falls off its
// end) is refused with the verifier's reason.
func TestLoadVerifierLog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads a program")
	}
	code, err := Assemble([]Instruction{MovImm(R0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(ProgTypeCgroupDevice, "kan_bad", "Apache", code)
	if err == nil {
		p.Close()
		t.Fatal("a program without exit loaded")
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EACCES) || !strings.Contains(err.Error(), "verifier: ") {
		t.Errorf("error %q: want EINVAL or EACCES with the verifier's log", err)
	}
}

func cgroup2Mount(t *testing.T) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		pre, post, _ := strings.Cut(s.Text(), " - ")
		if fields := strings.Fields(pre); len(fields) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return fields[4]
		}
	}
	t.Skip("no cgroup2 hierarchy on this host")
	return ""
}

// TestAttachQueryDetach: a program attached to a cgroup is listed by
// Query, found again by its id, swapped for another with FlagReplace, and
// gone after Detach.
func TestAttachQueryDetach(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a cgroup")
	}
	dir := filepath.Join(cgroup2Mount(t), fmt.Sprintf("kan-bpftest-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cg)

	names := func() []string {
		t.Helper()
		ids, err := Query(cg, AttachCgroupDevice)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, id := range ids {
			p, err := ByID(id)
			if err != nil {
				t.Fatal(err)
			}
			_, name, err := p.Info()
			p.Close()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, name)
		}
		return out
	}
	if n := names(); len(n) != 0 {
		t.Fatalf("a new cgroup has programs %q", n)
	}
	first, second := load(t, "kan_first", allowAll), load(t, "kan_second", allowAll)
	if err := Attach(cg, first, AttachCgroupDevice, FlagAllowMulti, nil); err != nil {
		t.Fatal(err)
	}
	if n := names(); len(n) != 1 || n[0] != "kan_first" {
		t.Fatalf("attached: %q, want kan_first", n)
	}
	if err := Attach(cg, second, AttachCgroupDevice, FlagAllowMulti|FlagReplace, first); err != nil {
		t.Fatal(err)
	}
	if n := names(); len(n) != 1 || n[0] != "kan_second" {
		t.Fatalf("after the replacement: %q, want kan_second", n)
	}
	if err := Detach(cg, second, AttachCgroupDevice); err != nil {
		t.Fatal(err)
	}
	if n := names(); len(n) != 0 {
		t.Fatalf("after Detach: %q", n)
	}
	if err := Detach(cg, second, AttachCgroupDevice); !errors.Is(err, unix.ENOENT) {
		t.Errorf("Detach of a program not attached: %v, want ENOENT", err)
	}
}

// TestQueryGrows: more programs than Query's first buffer holds are all
// listed.
func TestQueryGrows(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a cgroup")
	}
	dir := filepath.Join(cgroup2Mount(t), fmt.Sprintf("kan-bpftest-many-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cg)
	const n = 70 // Query's first buffer holds 8; the kernel allows 64 per cgroup
	attached := 0
	for range n {
		q := load(t, "kan_many", allowAll)
		if err := Attach(cg, q, AttachCgroupDevice, FlagAllowMulti, nil); err != nil {
			if errors.Is(err, unix.E2BIG) {
				break // BPF_CGROUP_MAX_PROGS
			}
			t.Fatal(err)
		}
		attached++
		defer Detach(cg, q, AttachCgroupDevice)
	}
	ids, err := Query(cg, AttachCgroupDevice)
	if err != nil {
		t.Fatal(err)
	}
	if attached <= 8 {
		t.Fatalf("only %d programs attached: the test needs more than Query's first buffer", attached)
	}
	if len(ids) != attached {
		t.Errorf("Query listed %d programs, %d attached", len(ids), attached)
	}
}
