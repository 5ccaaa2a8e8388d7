//go:build amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x

package bpf

import "unsafe"

// pointer is a __aligned_u64 of bpf_attr that holds an address: a real
// pointer, so that the garbage collector keeps (and moves) what it points
// to as it does any other.
type pointer struct{ p unsafe.Pointer }
