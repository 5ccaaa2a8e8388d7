package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// A classic BPF program with symbolic jump targets. Conditional jumps of
// classic BPF reach at most 255 instructions forward; the assembler lays
// the program out and turns each conditional jump that cannot reach its
// target into a conditional hop over two unconditional jumps (BPF_JA
// takes a 32-bit offset).

// label names a place in the program; next is the instruction that
// follows.
type label int

const next label = -1

type insn struct {
	code   uint16
	k      uint32
	jt, jf label // conditional jumps
	to     label // BPF_JA
	mark   label // when >= 0, no instruction: label defined here
	isMark bool
}

type asm struct {
	insns  []insn
	labels int
}

func (a *asm) newLabel() label {
	a.labels++
	return label(a.labels - 1)
}

func (a *asm) place(l label) { a.insns = append(a.insns, insn{mark: l, isMark: true}) }

// loadWord loads the 32-bit word at off in struct seccomp_data.
func (a *asm) loadWord(off uint32) {
	a.insns = append(a.insns, insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off})
}

func (a *asm) and(k uint32) {
	a.insns = append(a.insns, insn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: k})
}

func (a *asm) ret(k uint32) { a.insns = append(a.insns, insn{code: unix.BPF_RET | unix.BPF_K, k: k}) }

func (a *asm) jump(to label) {
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | unix.BPF_JA, to: to})
}

// jeq, jgt, jge: if A op k goto jt else goto jf.
func (a *asm) jeq(k uint32, jt, jf label) { a.cond(unix.BPF_JEQ, k, jt, jf) }
func (a *asm) jgt(k uint32, jt, jf label) { a.cond(unix.BPF_JGT, k, jt, jf) }
func (a *asm) jge(k uint32, jt, jf label) { a.cond(unix.BPF_JGE, k, jt, jf) }

func (a *asm) cond(op uint16, k uint32, jt, jf label) {
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf})
}

func isCond(in insn) bool {
	return in.code&0x07 == unix.BPF_JMP && in.code&0xf0 != unix.BPF_JA
}

// assemble resolves the labels. It fails on a label used but never
// placed, or on a jump backwards (classic BPF has none).
func (a *asm) assemble() ([]unix.SockFilter, error) {
	long := make([]bool, len(a.insns)) // conditional jumps expanded to 3 instructions
	for {
		l := a.layout(long)
		grew := false
		for i, in := range a.insns {
			if in.isMark || !isCond(in) || long[i] {
				continue
			}
			for _, to := range []label{in.jt, in.jf} {
				off, err := l.offset(i, l.pos[i]+1, to)
				if err != nil {
					return nil, err
				}
				if off > 255 {
					long[i], grew = true, true
				}
			}
		}
		if !grew {
			return a.emit(l, long)
		}
	}
}

// layout is where each instruction and each label lands.
type layout struct {
	pos []int // of each instruction; len(insns) holds the end
	at  []int // of each label; -1: never placed
}

func (a *asm) layout(long []bool) layout {
	l := layout{pos: make([]int, len(a.insns)+1), at: make([]int, a.labels)}
	for i := range l.at {
		l.at[i] = -1
	}
	n := 0
	for i, in := range a.insns {
		l.pos[i] = n
		switch {
		case in.isMark:
			l.at[in.mark] = n
		case long[i]:
			n += 3
		default:
			n++
		}
	}
	l.pos[len(a.insns)] = n
	return l
}

// offset is the jump offset, from the position from (the one after a
// jump of instruction i), to the target to.
func (l layout) offset(i, from int, to label) (int, error) {
	target := l.pos[i+1] // next: the instruction after i, however long i is
	if to != next {
		if target = l.at[to]; target < 0 {
			return 0, fmt.Errorf("seccomp: internal error: label %d never placed", to)
		}
	}
	if target < from {
		return 0, fmt.Errorf("seccomp: internal error: backward jump to label %d", to)
	}
	return target - from, nil
}

func (a *asm) emit(l layout, long []bool) ([]unix.SockFilter, error) {
	out := make([]unix.SockFilter, 0, l.pos[len(a.insns)])
	for i, in := range a.insns {
		switch {
		case in.isMark:
		case in.code&0x07 == unix.BPF_JMP && in.code&0xf0 == unix.BPF_JA:
			off, err := l.offset(i, l.pos[i]+1, in.to)
			if err != nil {
				return nil, err
			}
			out = append(out, unix.SockFilter{Code: in.code, K: uint32(off)})
		case isCond(in) && long[i]:
			// if A op k: on to "ja jt", else over it to "ja jf".
			out = append(out, unix.SockFilter{Code: in.code, K: in.k, Jt: 0, Jf: 1})
			for j, to := range []label{in.jt, in.jf} {
				off, err := l.offset(i, l.pos[i]+2+j, to)
				if err != nil {
					return nil, err
				}
				out = append(out, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(off)})
			}
		case isCond(in):
			jt, err := l.offset(i, l.pos[i]+1, in.jt)
			if err != nil {
				return nil, err
			}
			jf, err := l.offset(i, l.pos[i]+1, in.jf)
			if err != nil {
				return nil, err
			}
			out = append(out, unix.SockFilter{Code: in.code, K: in.k, Jt: uint8(jt), Jf: uint8(jf)})
		default:
			out = append(out, unix.SockFilter{Code: in.code, K: in.k})
		}
	}
	return out, nil
}

// AppendProgram appends prog as the kernel lays out struct sock_filter
// (8 bytes each, native byte order).
func AppendProgram(b []byte, prog []unix.SockFilter) []byte {
	for _, in := range prog {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}

// ReadProgram reads n instructions that AppendProgram laid out in b,
// which holds at least 8*n bytes.
func ReadProgram(b []byte, n int) []unix.SockFilter {
	prog := make([]unix.SockFilter, n)
	for i := range prog {
		in := b[8*i:]
		prog[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(in), Jt: in[2], Jf: in[3], K: binary.NativeEndian.Uint32(in[4:])}
	}
	return prog
}
