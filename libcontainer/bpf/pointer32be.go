//go:build mips

package bpf

import "unsafe"

// pointer is a __aligned_u64 of bpf_attr that holds an address (see
// pointer64.go): on a 32-bit big-endian machine, its low half comes last.
type pointer struct {
	_ uint32
	p unsafe.Pointer
}
