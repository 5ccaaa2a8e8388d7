package devices

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/bpf"
)

func num(v int64) *int64 { return &v }

func allow(typ string, major, minor *int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: major, Minor: minor, Access: access}
}

func deny(typ string, major, minor *int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: false, Type: typ, Major: major, Minor: minor, Access: access}
}

// --- A tiny interpreter for the instructions Program emits, so the
// semantics can be checked without a kernel. It runs the marshalled bytes,
// i.e. what the kernel would load.

type request struct {
	typ, access  uint32 // devBlock/devChar; accMknod|accRead|accWrite
	major, minor uint32
}

func (q request) String() string {
	t := "?"
	switch q.typ {
	case devBlock:
		t = "b"
	case devChar:
		t = "c"
	}
	acc := ""
	for _, l := range []struct {
		bit uint32
		c   string
	}{{accRead, "r"}, {accWrite, "w"}, {accMknod, "m"}} {
		if q.access&l.bit != 0 {
			acc += l.c
		}
	}
	return fmt.Sprintf("%s %d:%d %q", t, q.major, q.minor, acc)
}

func marshal(t *testing.T, insns []bpf.Instruction) []byte {
	t.Helper()
	code, err := bpf.Assemble(insns)
	if err != nil {
		t.Fatalf("assemble: %v\n%v", err, insns)
	}
	if err := checkCFG(code); err != nil {
		t.Fatalf("%v\n%v", err, insns)
	}
	return code
}

// checkCFG does the kernel verifier's structural checks: every jump lands
// inside the program, the last instruction does not fall off the end, and
// every instruction is reachable.
func checkCFG(code []byte) error {
	n := len(code) / 8
	reached := make([]bool, n)
	work := []int{0}
	for len(work) > 0 {
		pc := work[len(work)-1]
		work = work[:len(work)-1]
		if pc < 0 || pc >= n {
			return fmt.Errorf("control flow leaves the program at %d", pc)
		}
		if reached[pc] {
			continue
		}
		reached[pc] = true
		op := code[pc*8]
		off := int(int16(binary.LittleEndian.Uint16(code[pc*8+2:])))
		switch {
		case op == 0x95: // exit
		case op == 0x05: // ja
			work = append(work, pc+1+off)
		case op&0x07 == 0x05 || op&0x07 == 0x06: // conditional jumps
			work = append(work, pc+1, pc+1+off)
		default:
			work = append(work, pc+1)
		}
	}
	for pc, ok := range reached {
		if !ok {
			return fmt.Errorf("unreachable instruction %d", pc)
		}
	}
	return nil
}

func run(code []byte, q request) (uint64, error) {
	var ctx [12]byte
	binary.LittleEndian.PutUint32(ctx[0:], q.access<<16|q.typ)
	binary.LittleEndian.PutUint32(ctx[4:], q.major)
	binary.LittleEndian.PutUint32(ctx[8:], q.minor)

	var reg [11]uint64
	const ctxPtr = 1 << 40 // a fake address for R1
	reg[1] = ctxPtr
	n := len(code) / 8
	for pc, steps := 0, 0; ; pc, steps = pc+1, steps+1 {
		if pc < 0 || pc >= n {
			return 0, fmt.Errorf("pc %d out of program (%d insns)", pc, n)
		}
		if steps > 100000 {
			return 0, errors.New("too many steps")
		}
		raw := code[pc*8 : pc*8+8]
		op := raw[0]
		dst, src := raw[1]&0xf, raw[1]>>4
		off := int16(binary.LittleEndian.Uint16(raw[2:]))
		imm := int32(binary.LittleEndian.Uint32(raw[4:]))
		if dst > 10 || src > 10 {
			return 0, fmt.Errorf("pc %d: bad register", pc)
		}
		switch op & 0x07 { // class
		case 0x01: // LDX
			if op != 0x61 { // BPF_LDX|BPF_MEM|BPF_W
				return 0, fmt.Errorf("pc %d: unsupported load %#x", pc, op)
			}
			addr := int64(reg[src]) - ctxPtr + int64(off)
			if addr < 0 || addr+4 > int64(len(ctx)) || addr%4 != 0 {
				return 0, fmt.Errorf("pc %d: load outside ctx (r%d%+d)", pc, src, off)
			}
			reg[dst] = uint64(binary.LittleEndian.Uint32(ctx[addr:]))
		case 0x07: // ALU64
			if op&0x08 != 0 {
				return 0, fmt.Errorf("pc %d: register source unsupported", pc)
			}
			k := uint64(int64(imm))
			switch op & 0xf0 {
			case 0x50:
				reg[dst] &= k
			case 0x70:
				reg[dst] >>= k & 63
			case 0xb0:
				reg[dst] = k
			default:
				return 0, fmt.Errorf("pc %d: unsupported alu op %#x", pc, op)
			}
		case 0x05, 0x06: // JMP, JMP32
			if op&0x08 != 0 {
				return 0, fmt.Errorf("pc %d: register source unsupported", pc)
			}
			a, k := reg[dst], uint64(int64(imm))
			if op&0x07 == 0x06 {
				a, k = uint64(uint32(a)), uint64(uint32(imm))
			}
			var jump bool
			switch op & 0xf0 {
			case 0x00:
				jump = true
			case 0x10:
				jump = a == k
			case 0x40:
				jump = a&k != 0
			case 0x50:
				jump = a != k
			case 0x90:
				if op == 0x95 {
					return reg[0], nil
				}
				return 0, fmt.Errorf("pc %d: bad opcode %#x", pc, op)
			default:
				return 0, fmt.Errorf("pc %d: unsupported jump %#x", pc, op)
			}
			if jump {
				pc += int(off)
			}
		default:
			return 0, fmt.Errorf("pc %d: unsupported class %#x", pc, op)
		}
	}
}

// model states the documented semantics directly: per requested access
// letter, the last rule matching the device and naming the letter decides;
// everything unmatched is denied, and so is an access bit other than r, w
// and m. An empty request is decided by the last rule matching the device.
func model(rules []specs.LinuxDeviceCgroup, q request) bool {
	devMatch := func(r specs.LinuxDeviceCgroup) bool {
		switch r.Type {
		case "b":
			if q.typ != devBlock {
				return false
			}
		case "c":
			if q.typ != devChar {
				return false
			}
		}
		return (r.Major == nil || uint32(*r.Major) == q.major) &&
			(r.Minor == nil || uint32(*r.Minor) == q.minor)
	}
	letters := func(r specs.LinuxDeviceCgroup) uint32 {
		if r.Access == "" {
			return accAll
		}
		var a uint32
		for _, c := range r.Access {
			a |= map[rune]uint32{'r': accRead, 'w': accWrite, 'm': accMknod}[c]
		}
		return a
	}
	if q.access&^accAll != 0 {
		return false // a letter no rule can name
	}
	if q.access == 0 {
		for i := len(rules) - 1; i >= 0; i-- {
			if devMatch(rules[i]) {
				return rules[i].Allow
			}
		}
		return false
	}
	for _, bit := range []uint32{accMknod, accRead, accWrite} {
		if q.access&bit == 0 {
			continue
		}
		ok := false
		for i := len(rules) - 1; i >= 0; i-- {
			if devMatch(rules[i]) && letters(rules[i])&bit != 0 {
				ok = rules[i].Allow
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func evaluate(t *testing.T, rules []specs.LinuxDeviceCgroup, q request) bool {
	t.Helper()
	insns, err := Program(rules)
	if err != nil {
		t.Fatalf("Program: %v", err)
	}
	ret, err := run(marshal(t, insns), q)
	if err != nil {
		t.Fatalf("run %v: %v\n%v", q, err, insns)
	}
	if ret > 1 {
		t.Fatalf("program returned %d", ret)
	}
	return ret == 1
}

func TestProgramAssembles(t *testing.T) {
	lists := map[string][]specs.LinuxDeviceCgroup{
		"empty":          nil,
		"deny all":       {deny("a", nil, nil, "rwm")},
		"allow all":      {allow("", nil, nil, "")},
		"defaults":       DefaultAllowed(),
		"effective":      Effective([]specs.LinuxDeviceCgroup{deny("", nil, nil, "rwm"), allow("b", num(8), nil, "r")}),
		"big numbers":    {allow("c", num(0xffffffff), num(0x80000000), "rw")},
		"partial denies": {allow("a", nil, nil, "rwm"), deny("c", num(1), nil, "w"), deny("b", nil, num(0), "m")},
	}
	for name, rules := range lists {
		t.Run(name, func(t *testing.T) {
			insns, err := Program(rules)
			if err != nil {
				t.Fatal(err)
			}
			code := marshal(t, insns)
			if len(code) == 0 || len(code)%bpf.InstructionSize != 0 {
				t.Fatalf("bad program size %d", len(code))
			}
			if last := insns[len(insns)-1]; last.Op != bpf.Return().Op {
				t.Fatalf("program does not end with exit: %v", last)
			}
		})
	}

	// Many rules: every jump stays short (each rule only jumps within or
	// just past itself).
	var many []specs.LinuxDeviceCgroup
	for i := range 20000 {
		many = append(many, deny("c", num(int64(i)), num(1), "w"))
	}
	insns, err := Program(many)
	if err != nil {
		t.Fatal(err)
	}
	marshal(t, insns)
}

func TestProgramInvalidRules(t *testing.T) {
	valid := allow("c", num(1), num(3), "rwm")
	for _, tc := range []struct {
		rule  specs.LinuxDeviceCgroup
		index int
		field string
		want  string
	}{
		{allow("x", nil, nil, "r"), 1, "type", `"x"`},
		{allow("C", nil, nil, "r"), 1, "type", `"C"`},
		{allow("char", nil, nil, "r"), 1, "type", `"char"`},
		{allow("c", nil, nil, "rx"), 1, "access", `'x'`},
		{allow("c", nil, nil, "R"), 1, "access", `'R'`},
		{allow("c", nil, nil, "r w"), 1, "access", `' '`},
		{allow("c", num(-1), nil, "r"), 1, "major", "-1"},
		{allow("c", num(1), num(-5), "r"), 1, "minor", "-5"},
		{allow("b", num(1<<32), nil, "r"), 1, "major", "4294967296"},
	} {
		rules := []specs.LinuxDeviceCgroup{valid, tc.rule, valid}
		_, err := Program(rules)
		if err == nil {
			t.Errorf("%s: no error", ruleString(tc.rule))
			continue
		}
		msg := err.Error()
		for _, w := range []string{fmt.Sprintf("rule %d", tc.index), tc.field + ":", tc.want} {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q does not mention %q", ruleString(tc.rule), msg, w)
			}
		}
		// Apply validates before touching the kernel.
		if err := Apply(-1, rules); err == nil || !strings.Contains(err.Error(), "rule 1") {
			t.Errorf("Apply: %v, want the rule 1 error", err)
		}
	}
}

func TestProgramSemantics(t *testing.T) {
	null := request{typ: devChar, major: 1, minor: 3}
	zero := request{typ: devChar, major: 1, minor: 5}
	sda := request{typ: devBlock, major: 8, minor: 0}
	with := func(q request, acc uint32) request { q.access = acc; return q }
	rw := uint32(accRead | accWrite)

	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		q     request
		want  bool
	}{
		{"no rules", nil, with(null, accRead), false},
		{"allow exact", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "rwm")}, with(null, rw), true},
		{"other minor", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "rwm")}, with(zero, accRead), false},
		{"other type", []specs.LinuxDeviceCgroup{allow("b", num(1), num(3), "rwm")}, with(null, accRead), false},
		{"type a matches char", []specs.LinuxDeviceCgroup{allow("a", num(1), num(3), "r")}, with(null, accRead), true},
		{"wildcard minor", []specs.LinuxDeviceCgroup{allow("c", num(1), nil, "r")}, with(zero, accRead), true},
		{"empty access is rwm", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "")}, with(null, rw|accMknod), true},
		{"read-only rule, rw open", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "r")}, with(null, rw), false},
		{"r and w from two rules", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "r"), allow("c", nil, nil, "w")}, with(null, rw), true},
		{"an access bit outside rwm is denied, even by allow-all", []specs.LinuxDeviceCgroup{allow("a", nil, nil, "rwm")}, with(null, accRead|8), false},
		{"deny after allow-all wins", []specs.LinuxDeviceCgroup{allow("a", nil, nil, "rwm"), deny("c", num(1), num(5), "rwm")}, with(zero, accRead), false},
		{"deny after allow-all, other device", []specs.LinuxDeviceCgroup{allow("a", nil, nil, "rwm"), deny("c", num(1), num(5), "rwm")}, with(null, accRead), true},
		{"allow after deny-all wins", []specs.LinuxDeviceCgroup{deny("a", nil, nil, "rwm"), allow("c", num(1), num(3), "rwm")}, with(null, rw), true},
		{"deny-all last wins", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "rwm"), deny("", nil, nil, "")}, with(null, accRead), false},
		{"deny w, read ok", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "rwm"), deny("c", num(1), num(3), "w")}, with(null, accRead), true},
		{"deny w, write denied", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "rwm"), deny("c", num(1), num(3), "w")}, with(null, accWrite), false},
		{"deny w, rw denied", []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "rwm"), deny("c", num(1), num(3), "w")}, with(null, rw), false},
		{"deny w then allow w", []specs.LinuxDeviceCgroup{deny("c", num(1), num(3), "w"), allow("c", num(1), num(3), "rw")}, with(null, rw), true},
		{"mknod default, open denied", DefaultAllowed(), with(sda, accMknod), true},
		{"mknod default, read denied", DefaultAllowed(), with(sda, accRead), false},
		{"defaults: pts", DefaultAllowed(), request{typ: devChar, major: 136, minor: 7, access: rw}, true},
		{"defaults: tun", DefaultAllowed(), request{typ: devChar, major: 10, minor: 200, access: rw}, true},
		{"defaults: not /dev/mem", DefaultAllowed(), request{typ: devChar, major: 1, minor: 1, access: accRead}, false},
		{"effective: config cannot deny /dev/null", Effective([]specs.LinuxDeviceCgroup{deny("a", nil, nil, "rwm"), deny("c", num(1), num(3), "rwm")}), with(null, rw), true},
		{"effective: config denies /dev/sda", Effective([]specs.LinuxDeviceCgroup{allow("a", nil, nil, "rwm"), deny("b", num(8), nil, "rw")}), with(sda, accRead), false},
		{"effective: config allows /dev/sda", Effective([]specs.LinuxDeviceCgroup{deny("a", nil, nil, "rwm"), allow("b", num(8), num(0), "r")}), with(sda, accRead), true},
		{"big major", []specs.LinuxDeviceCgroup{allow("c", num(0xfffffff0), nil, "r")}, request{typ: devChar, major: 0xfffffff0, access: accRead}, true},
		{"big major mismatch", []specs.LinuxDeviceCgroup{allow("c", num(0xfffffff0), nil, "r")}, request{typ: devChar, major: 0xfffffff1, access: accRead}, false},
	} {
		if got := evaluate(t, tc.rules, tc.q); got != tc.want {
			t.Errorf("%s: %v -> %v, want %v", tc.name, tc.q, got, tc.want)
		}
		if got := model(tc.rules, tc.q); got != tc.want {
			t.Errorf("%s: model says %v, want %v (test bug)", tc.name, got, tc.want)
		}
	}
}

// TestProgramMatchesModel compares the program with the model on random
// rule lists over a small domain, so that rules overlap often.
func TestProgramMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"", "a", "b", "c"}
	majors := []*int64{nil, num(1), num(5)}
	minors := []*int64{nil, num(3), num(5)}
	accesses := []string{"", "r", "w", "m", "rw", "rm", "wm", "rwm", "mwr", "rr"}
	for iter := range 3000 {
		n := rng.IntN(7)
		rules := make([]specs.LinuxDeviceCgroup, n)
		for i := range rules {
			rules[i] = specs.LinuxDeviceCgroup{
				Allow:  rng.IntN(2) == 0,
				Type:   types[rng.IntN(len(types))],
				Major:  majors[rng.IntN(len(majors))],
				Minor:  minors[rng.IntN(len(minors))],
				Access: accesses[rng.IntN(len(accesses))],
			}
		}
		insns, err := Program(rules)
		if err != nil {
			t.Fatal(err)
		}
		code := marshal(t, insns)
		for _, typ := range []uint32{devBlock, devChar} {
			for _, major := range []uint32{1, 5, 7} {
				for _, minor := range []uint32{3, 5, 9} {
					for acc := range uint32(8) {
						q := request{typ: typ, major: major, minor: minor, access: acc}
						ret, err := run(code, q)
						if err != nil {
							t.Fatalf("iteration %d: %v", iter, err)
						}
						if got, want := ret == 1, model(rules, q); got != want {
							var desc []string
							for _, r := range rules {
								desc = append(desc, ruleString(r))
							}
							t.Fatalf("rules [%s]: %v -> %v, want %v", strings.Join(desc, "; "), q, got, want)
						}
					}
				}
			}
		}
	}
}

func TestDefaultAllowedFresh(t *testing.T) {
	a := DefaultAllowed()
	*a[2].Minor = 99
	a[0].Access = "rwm"
	b := DefaultAllowed()
	if *b[2].Minor != 3 || b[0].Access != "m" {
		t.Fatal("DefaultAllowed shares state between calls")
	}
	cfg := []specs.LinuxDeviceCgroup{deny("a", nil, nil, "rwm")}
	eff := Effective(cfg)
	if len(eff) != 1+len(b) || eff[0].Allow || eff[0].Type != "a" {
		t.Fatalf("Effective does not start with the config's rules: %v", eff)
	}
	if len(cfg) != 1 {
		t.Fatal("Effective modified its argument")
	}
}

// --- Kernel tests.

// cgroup2Mount returns the mount point of the cgroup2 hierarchy.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		pre, post, ok := strings.Cut(s.Text(), " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(postFields) < 1 || postFields[0] != "cgroup2" {
			continue
		}
		// Undo mountinfo's octal escapes (\040 for a space, ...).
		mnt, err := strconv.Unquote(`"` + strings.ReplaceAll(fields[4], `"`, `\"`) + `"`)
		if err != nil {
			mnt = fields[4]
		}
		return mnt, nil
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup2 mount")
}

type testCgroup struct {
	path string
	fd   int
}

func newTestCgroup(t *testing.T) *testCgroup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	mnt, err := cgroup2Mount()
	if err != nil {
		t.Skipf("no cgroup2 hierarchy: %v", err)
	}
	path := filepath.Join(mnt, fmt.Sprintf("kan-devtest-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_")))
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(path)
		t.Fatal(err)
	}
	cg := &testCgroup{path: path, fd: fd}
	t.Cleanup(func() {
		unix.Close(fd)
		var err error
		for range 50 {
			// All processes have been waited for, but the kernel
			// may take a moment to let the cgroup go.
			if err = unix.Rmdir(path); err == nil || errors.Is(err, unix.ENOENT) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("remove cgroup %s: %v", path, err)
	})
	return cg
}

// sh runs script with /bin/sh inside the cgroup and returns its stdout and
// stderr.
func (cg *testCgroup) sh(t *testing.T, script string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	// The host's tools print strerror in the locale's language: the
	// tests match the C locale's.
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cg.fd}
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			t.Fatalf("run %q in %s: %v", script, cg.path, err)
		}
	}
	return out.String(), errOut.String()
}

// programs returns the names of the device programs attached to the cgroup.
func (cg *testCgroup) programs(t *testing.T) []string {
	t.Helper()
	res, err := link.QueryPrograms(link.QueryOptions{Target: cg.fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ap := range res.Programs {
		p, err := ebpf.NewProgramFromID(ap.ID)
		if err != nil {
			t.Fatal(err)
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, info.Name)
	}
	return names
}

func (cg *testCgroup) countOurs(t *testing.T) int {
	t.Helper()
	n := 0
	for _, name := range cg.programs(t) {
		if name == ProgramName {
			n++
		}
	}
	return n
}

const nullZeroScript = `cat /dev/null && echo null-ok; head -c1 /dev/zero`

func TestApplyReplace(t *testing.T) {
	cg := newTestCgroup(t)

	// Sanity: without a program both devices are readable.
	if out, errOut := cg.sh(t, nullZeroScript); out != "null-ok\n\x00" {
		t.Fatalf("without a program: stdout %q, stderr %q", out, errOut)
	}

	if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "rwm")}); err != nil {
		t.Fatal(err)
	}
	out, errOut := cg.sh(t, nullZeroScript)
	if out != "null-ok\n" {
		t.Errorf("only /dev/null allowed: stdout %q, want %q (stderr %q)", out, "null-ok\n", errOut)
	}
	if !strings.Contains(errOut, "/dev/zero") || !strings.Contains(errOut, "Operation not permitted") {
		t.Errorf("only /dev/null allowed: stderr %q, want /dev/zero: Operation not permitted", errOut)
	}
	if n := cg.countOurs(t); n != 1 {
		t.Errorf("%d kan programs attached, want 1", n)
	}

	// Replace: now /dev/zero is allowed too.
	if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{
		allow("c", num(1), num(3), "rwm"),
		allow("c", num(1), num(5), "r"),
	}); err != nil {
		t.Fatal(err)
	}
	if out, errOut := cg.sh(t, nullZeroScript); out != "null-ok\n\x00" || errOut != "" {
		t.Errorf("after replacement: stdout %q, stderr %q; want null-ok and a zero byte", out, errOut)
	}
	if names := cg.programs(t); len(names) != 1 || names[0] != ProgramName {
		t.Errorf("after replacement attached programs are %q, want one %q", names, ProgramName)
	}

	// An invalid list changes nothing.
	if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{allow("q", nil, nil, "")}); err == nil {
		t.Error("Apply accepted type q")
	}
	if out, _ := cg.sh(t, nullZeroScript); out != "null-ok\n\x00" {
		t.Errorf("after a rejected Apply: stdout %q", out)
	}

	// Several kan programs (e.g. left by a crash): Apply leaves one.
	for _, rules := range [][]specs.LinuxDeviceCgroup{{allow("a", nil, nil, "")}, {allow("c", nil, nil, "")}} {
		p, err := Load(rules)
		if err != nil {
			t.Fatal(err)
		}
		err = bpf.Attach(cg.fd, p, bpf.AttachCgroupDevice, bpf.FlagAllowMulti, nil)
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := cg.countOurs(t); n != 3 {
		t.Fatalf("set-up: %d kan programs attached, want 3", n)
	}
	if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "rwm")}); err != nil {
		t.Fatal(err)
	}
	if n := cg.countOurs(t); n != 1 {
		t.Errorf("%d kan programs attached, want 1", n)
	}
	if out, _ := cg.sh(t, nullZeroScript); out != "null-ok\n" {
		t.Errorf("after replacing three programs: stdout %q, want only null-ok", out)
	}
}

func TestApplyLastRuleWins(t *testing.T) {
	cg := newTestCgroup(t)

	// A deny after an allow-all wins.
	if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{
		allow("a", nil, nil, "rwm"),
		deny("c", num(1), num(5), "rwm"),
	}); err != nil {
		t.Fatal(err)
	}
	out, errOut := cg.sh(t, nullZeroScript)
	if out != "null-ok\n" || !strings.Contains(errOut, "Operation not permitted") {
		t.Errorf("allow all, deny zero: stdout %q, stderr %q; want null-ok and /dev/zero denied", out, errOut)
	}

	// A deny of one letter: reading works, writing does not.
	if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{
		allow("c", num(1), num(3), "rwm"),
		deny("c", num(1), num(3), "w"),
	}); err != nil {
		t.Fatal(err)
	}
	out, errOut = cg.sh(t, `cat /dev/null && echo read-ok; echo x > /dev/null && echo write-ok`)
	if out != "read-ok\n" || !strings.Contains(errOut, "Operation not permitted") {
		t.Errorf("deny w on /dev/null: stdout %q, stderr %q; want read-ok and the write denied", out, errOut)
	}

	// An allow after a deny-all wins.
	if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{
		deny("", nil, nil, ""),
		allow("c", num(1), num(5), "r"),
	}); err != nil {
		t.Fatal(err)
	}
	out, errOut = cg.sh(t, nullZeroScript)
	if out != "\x00" || !strings.Contains(errOut, "/dev/null") {
		t.Errorf("deny all, allow zero: stdout %q, stderr %q; want /dev/null denied and a zero byte", out, errOut)
	}
}

// TestApplyKeepsForeignPrograms checks that Apply replaces only its own
// program and that the kernel ANDs the two.
func TestApplyKeepsForeignPrograms(t *testing.T) {
	cg := newTestCgroup(t)

	// Someone else's program: deny /dev/null, allow everything else.
	foreign, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "other_devices",
		Type: ebpf.CGroupDevice,
		Instructions: asm.Instructions{
			asm.LoadMem(asm.R2, asm.R1, 8, asm.Word),
			asm.Mov.Imm(asm.R0, 1),
			asm.JNE.Imm(asm.R2, 3, "out"),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return().WithSymbol("out"),
		},
		License: "Apache",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{Target: cg.fd, Program: foreign, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI}); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{allow("c", num(1), nil, "rwm")}); err != nil {
			t.Fatal(err)
		}
	}
	names := cg.programs(t)
	if len(names) != 2 || !strings.Contains(strings.Join(names, " "), "other_devices") || cg.countOurs(t) != 1 {
		t.Errorf("attached programs %q, want other_devices and one %s", names, ProgramName)
	}
	out, errOut := cg.sh(t, nullZeroScript)
	if out != "\x00" || !strings.Contains(errOut, "Operation not permitted") {
		t.Errorf("stdout %q, stderr %q; want /dev/null denied by the other program and /dev/zero allowed", out, errOut)
	}
}

// TestApplyReplacesNonMulti: a kan program attached without
// BPF_F_ALLOW_MULTI (in that mode only one program fits) is replaced too.
func TestApplyReplacesNonMulti(t *testing.T) {
	cg := newTestCgroup(t)
	p, err := Load([]specs.LinuxDeviceCgroup{allow("c", num(1), num(3), "")})
	if err != nil {
		t.Fatal(err)
	}
	err = bpf.Attach(cg.fd, p, bpf.AttachCgroupDevice, 0, nil)
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := cg.sh(t, nullZeroScript); out != "null-ok\n" {
		t.Fatalf("set-up: stdout %q, want only null-ok", out)
	}

	if err := Apply(cg.fd, []specs.LinuxDeviceCgroup{allow("c", num(1), nil, "")}); err != nil {
		t.Fatal(err)
	}
	if names := cg.programs(t); len(names) != 1 || names[0] != ProgramName {
		t.Errorf("attached programs %q, want one %s", names, ProgramName)
	}
	if out, errOut := cg.sh(t, nullZeroScript); out != "null-ok\n\x00" {
		t.Errorf("after Apply: stdout %q, stderr %q; want null-ok and a zero byte", out, errOut)
	}
}
