// Package bpf assembles eBPF programs and loads, attaches, queries and
// detaches them with bpf(2), for the cgroup device filter.
//
// It is small on purpose: kan's every process initialises the packages it
// links, and cilium/ebpf (even its asm package) brings debug/elf, go/format,
// encoding/xml and compress with it, about 1 ms before main in every kan
// process (docs/performance.md). The device filter needs a dozen opcodes
// and six bpf(2) commands, which are here.
package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Registers.
const (
	R0 Reg = iota // return value
	R1            // first argument: the program's context
	R2
	R3
	R4
	R5
)

// Reg is an eBPF register.
type Reg uint8

// Size of a memory access.
type Size uint8

const (
	Word Size = 0x00 // BPF_W, 4 bytes
)

// Opcode classes, operations and sources (uapi/linux/bpf_common.h, bpf.h).
const (
	classLDX   = 0x01
	classJMP   = 0x05
	classJMP32 = 0x06
	classALU64 = 0x07

	modeMEM = 0x60
	srcK    = 0x00

	aluAND = 0x50
	aluRSH = 0x70
	aluMOV = 0xb0

	jmpJA   = 0x00
	jmpJEQ  = 0x10
	jmpJSET = 0x40
	jmpJNE  = 0x50
	jmpEXIT = 0x90
)

// InstructionSize is the size of one encoded instruction.
const InstructionSize = 8

// Instruction is one eBPF instruction (struct bpf_insn). A jump names its
// target by a label (see [Assemble]); Off is then computed.
type Instruction struct {
	Op       uint8
	Dst, Src Reg
	Off      int16
	Imm      int32
	// Target is the label a jump goes to.
	Target string
	// Label names this instruction, for jumps to it.
	Label string
}

// LoadMem loads size bytes at src+off into dst.
func LoadMem(dst, src Reg, off int16, size Size) Instruction {
	return Instruction{Op: classLDX | modeMEM | uint8(size), Dst: dst, Src: src, Off: off}
}

// AndImm is dst &= imm (64 bits; imm sign-extended).
func AndImm(dst Reg, imm int32) Instruction {
	return Instruction{Op: classALU64 | aluAND | srcK, Dst: dst, Imm: imm}
}

// RShImm is dst >>= imm (64 bits, logical).
func RShImm(dst Reg, imm int32) Instruction {
	return Instruction{Op: classALU64 | aluRSH | srcK, Dst: dst, Imm: imm}
}

// MovImm is dst = imm (64 bits; imm sign-extended).
func MovImm(dst Reg, imm int32) Instruction {
	return Instruction{Op: classALU64 | aluMOV | srcK, Dst: dst, Imm: imm}
}

// JNEImm jumps to label if dst != imm (64 bits, imm sign-extended).
func JNEImm(dst Reg, imm int32, label string) Instruction {
	return Instruction{Op: classJMP | jmpJNE | srcK, Dst: dst, Imm: imm, Target: label}
}

// JNEImm32 jumps to label if the low 32 bits of dst != imm.
func JNEImm32(dst Reg, imm int32, label string) Instruction {
	return Instruction{Op: classJMP32 | jmpJNE | srcK, Dst: dst, Imm: imm, Target: label}
}

// JEqImm jumps to label if dst == imm (64 bits).
func JEqImm(dst Reg, imm int32, label string) Instruction {
	return Instruction{Op: classJMP | jmpJEQ | srcK, Dst: dst, Imm: imm, Target: label}
}

// JSetImm jumps to label if dst & imm != 0.
func JSetImm(dst Reg, imm int32, label string) Instruction {
	return Instruction{Op: classJMP | jmpJSET | srcK, Dst: dst, Imm: imm, Target: label}
}

// Ja jumps to label.
func Ja(label string) Instruction {
	return Instruction{Op: classJMP | jmpJA, Target: label}
}

// Return ends the program with R0 as its result.
func Return() Instruction {
	return Instruction{Op: classJMP | jmpEXIT}
}

// WithLabel names the instruction, for jumps to it.
func (i Instruction) WithLabel(label string) Instruction {
	i.Label = label
	return i
}

// Assemble resolves the jumps' labels and encodes insns as the kernel
// loads them (struct bpf_insn, in the host's byte order). Only forward
// jumps are made: the verifier rejects loops in a cgroup program anyway.
func Assemble(insns []Instruction) ([]byte, error) {
	at := make(map[string]int, len(insns))
	for n, ins := range insns {
		if ins.Label == "" {
			continue
		}
		if _, dup := at[ins.Label]; dup {
			return nil, fmt.Errorf("bpf: label %q on two instructions", ins.Label)
		}
		at[ins.Label] = n
	}
	code := make([]byte, 0, len(insns)*InstructionSize)
	for n, ins := range insns {
		off := ins.Off
		if ins.Target != "" {
			to, ok := at[ins.Target]
			if !ok {
				return nil, fmt.Errorf("bpf: instruction %d jumps to %q, which is on no instruction", n, ins.Target)
			}
			if to <= n || to-n-1 > 0x7fff {
				return nil, fmt.Errorf("bpf: instruction %d jumps to %q at %d: only forward jumps within 32767 are made", n, ins.Target, to)
			}
			off = int16(to - n - 1)
		}
		var b [InstructionSize]byte
		b[0] = ins.Op
		b[1] = uint8(ins.Dst&0xf) | uint8(ins.Src&0xf)<<4
		binary.NativeEndian.PutUint16(b[2:], uint16(off))
		binary.NativeEndian.PutUint32(b[4:], uint32(ins.Imm))
		code = append(code, b[:]...)
	}
	return code, nil
}

// Program types and attach types used here.
const (
	ProgTypeCgroupDevice   = unix.BPF_PROG_TYPE_CGROUP_DEVICE
	AttachCgroupDevice     = unix.BPF_CGROUP_DEVICE
	FlagAllowMulti         = unix.BPF_F_ALLOW_MULTI
	FlagReplace            = unix.BPF_F_REPLACE
	progNameLen            = 16 // BPF_OBJ_NAME_LEN
	verifierLogSize        = 64 << 10
	verifierLogLinesInErrs = 20
)

// Program is a loaded program, held by its fd.
type Program struct{ fd int }

// FD returns the program's file descriptor.
func (p *Program) FD() int { return p.fd }

// Close releases this reference to the program; an attached program
// stays loaded while attached.
func (p *Program) Close() error {
	if p == nil || p.fd < 0 {
		return nil
	}
	err := unix.Close(p.fd)
	p.fd = -1
	return err
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (uintptr, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
		if e == unix.EINTR || (e == unix.EAGAIN && cmd == unix.BPF_PROG_LOAD) {
			// The verifier gives up with EAGAIN when a signal is
			// pending; the load is simply tried again (as libbpf does).
			continue
		}
		if e != 0 {
			return 0, e
		}
		return r, nil
	}
}

// progLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD.
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       pointer
	license     pointer
	logLevel    uint32
	logSize     uint32
	logBuf      pointer
	kernVersion uint32
	progFlags   uint32
	progName    [progNameLen]byte
}

// Load loads the assembled code (from [Assemble]) as a program of the
// given type, named name (at most 15 bytes kept). A program the verifier
// rejects is loaded again with its log, whose end the error carries.
func Load(progType uint32, name, license string, code []byte) (*Program, error) {
	if len(code) == 0 || len(code)%InstructionSize != 0 {
		return nil, fmt.Errorf("bpf: program of %d bytes is not a whole number of instructions", len(code))
	}
	lic := append([]byte(license), 0)
	attr := progLoadAttr{
		progType: progType,
		insnCnt:  uint32(len(code) / InstructionSize),
		insns:    pointer{p: unsafe.Pointer(&code[0])},
		license:  pointer{p: unsafe.Pointer(&lic[0])},
	}
	copy(attr.progName[:progNameLen-1], name)
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err == nil {
		return &Program{fd: int(fd)}, nil
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EACCES) {
		return nil, fmt.Errorf("bpf(BPF_PROG_LOAD): %w", err)
	}
	// The verifier's reasons, for the error.
	log := make([]byte, verifierLogSize)
	attr.logLevel = 1
	attr.logSize = uint32(len(log))
	attr.logBuf = pointer{p: unsafe.Pointer(&log[0])}
	fd, err2 := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err2 == nil {
		// Loaded with a log where it failed without: keep it.
		return &Program{fd: int(fd)}, nil
	}
	if end := bytes.IndexByte(log, 0); end >= 0 {
		log = log[:end]
	}
	text := strings.TrimRight(string(log), "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > verifierLogLinesInErrs {
		lines = lines[len(lines)-verifierLogLinesInErrs:]
	}
	if text == "" {
		return nil, fmt.Errorf("bpf(BPF_PROG_LOAD): %w", err)
	}
	return nil, fmt.Errorf("bpf(BPF_PROG_LOAD): %w; verifier: %s", err, strings.Join(lines, "; "))
}

// attachAttr is union bpf_attr for BPF_PROG_ATTACH and BPF_PROG_DETACH.
type attachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

// Attach attaches prog to the target (a cgroup directory's fd) with
// BPF_PROG_ATTACH and flags; with [FlagReplace], replace is the program
// swapped out atomically.
func Attach(target int, prog *Program, attachType uint32, flags uint32, replace *Program) error {
	attr := attachAttr{targetFd: uint32(target), attachBpfFd: uint32(prog.fd), attachType: attachType, attachFlags: flags}
	if replace != nil {
		attr.replaceBpfFd = uint32(replace.fd)
	}
	_, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

// Detach detaches prog from the target.
func Detach(target int, prog *Program, attachType uint32) error {
	attr := attachAttr{targetFd: uint32(target), attachBpfFd: uint32(prog.fd), attachType: attachType}
	_, err := bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

// queryAttr is union bpf_attr for BPF_PROG_QUERY.
type queryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     pointer
	progCnt     uint32
	_           uint32
}

// Query returns the ids of the programs attached directly to the target.
func Query(target int, attachType uint32) ([]uint32, error) {
	ids := make([]uint32, 8) // a cgroup has one or two; the kernel allows 64
	for {
		attr := queryAttr{targetFd: uint32(target), attachType: attachType, progIDs: pointer{p: unsafe.Pointer(&ids[0])}, progCnt: uint32(len(ids))}
		_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		if errors.Is(err, unix.ENOSPC) {
			// More attached than room: prog_cnt says how many.
			ids = make([]uint32, max(2*len(ids), int(attr.progCnt)))
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:attr.progCnt], nil
	}
}

// getFdByIDAttr is union bpf_attr for BPF_PROG_GET_FD_BY_ID.
type getFdByIDAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

// ByID opens the loaded program of the given id.
func ByID(id uint32) (*Program, error) {
	attr := getFdByIDAttr{id: id}
	fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return nil, err
	}
	return &Program{fd: int(fd)}, nil
}

// infoAttr is union bpf_attr for BPF_OBJ_GET_INFO_BY_FD.
type infoAttr struct {
	bpfFd   uint32
	infoLen uint32
	info    pointer
}

// progInfo is the head of struct bpf_prog_info, up to the name.
type progInfo struct {
	typ             uint32
	id              uint32
	tag             [8]byte
	jitedProgLen    uint32
	xlatedProgLen   uint32
	jitedProgInsns  uint64
	xlatedProgInsns uint64
	loadTime        uint64
	createdByUID    uint32
	nrMapIDs        uint32
	mapIDs          uint64
	name            [progNameLen]byte
}

// Info returns the program's type and name.
func (p *Program) Info() (typ uint32, name string, _ error) {
	var info progInfo
	attr := infoAttr{bpfFd: uint32(p.fd), infoLen: uint32(unsafe.Sizeof(info)), info: pointer{p: unsafe.Pointer(&info)}}
	if _, err := bpf(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return 0, "", err
	}
	n := 0
	for n < len(info.name) && info.name[n] != 0 {
		n++
	}
	return info.typ, string(info.name[:n]), nil
}
