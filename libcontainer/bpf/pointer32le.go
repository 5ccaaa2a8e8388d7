//go:build 386 || arm || mipsle

package bpf

import "unsafe"

// pointer is a __aligned_u64 of bpf_attr that holds an address (see
// pointer64.go): on a 32-bit little-endian machine, its low half.
type pointer struct {
	p unsafe.Pointer
	_ uint32
}
