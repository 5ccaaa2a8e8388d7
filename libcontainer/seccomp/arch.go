package seccomp

import (
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// x32Bit is __X32_SYSCALL_BIT: an x32 syscall is made with x86_64's audit
// architecture and this bit set in its number.
const x32Bit = 0x40000000

// AUDIT_ARCH_* of linux/audit.h: the architecture a syscall is made with,
// in seccomp_data.arch.
const (
	auditX86_64  = 0xc000003e
	auditI386    = 0x40000003
	auditAarch64 = 0xc00000b7
	auditArm     = 0x40000028
)

type syscallNumber struct {
	name string
	nr   uint32
}

// arch is an architecture kan filters.
type arch struct {
	name   specs.Arch
	audit  uint32
	bits32 bool            // 32-bit: arguments are compared on their low word
	table  []syscallNumber // zsyscalls.go
}

var (
	archX86_64  = &arch{specs.ArchX86_64, auditX86_64, false, syscallsX86_64}
	archX86     = &arch{specs.ArchX86, auditI386, true, syscallsX86}
	archX32     = &arch{specs.ArchX32, auditX86_64, false, syscallsX32}
	archAarch64 = &arch{specs.ArchAARCH64, auditAarch64, false, syscallsAarch64}
	archArm     = &arch{specs.ArchARM, auditArm, true, syscallsArm}
)

// Family is a native architecture and the compat ones its processes can
// make syscalls with: a filter must decide for each.
type Family []*arch

// Native is the family of the machine kan runs on, nil where kan has no
// tables.
func Native() Family { return familyOf(runtime.GOARCH) }

func familyOf(goarch string) Family {
	switch goarch {
	case "amd64":
		return Family{archX86_64, archX86, archX32}
	case "arm64":
		return Family{archAarch64, archArm}
	}
	return nil
}

// Names are the OCI names of the family's architectures.
func (f Family) Names() []string {
	names := make([]string, len(f))
	for i, a := range f {
		names[i] = string(a.name)
	}
	return names
}

func (f Family) find(name specs.Arch) *arch {
	for _, a := range f {
		if a.name == name {
			return a
		}
	}
	return nil
}

// number is the syscall number of name on a, if a has it.
func (a *arch) number(name string) (uint32, bool) {
	// A binary search written out: sort.Search's closure call per step
	// was a fifth of compiling Docker's profile.
	lo, hi := 0, len(a.table)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if a.table[mid].name < name {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(a.table) && a.table[lo].name == name {
		return a.table[lo].nr, true
	}
	return 0, false
}

// knownArchs are the OCI architectures a profile may name. Those of
// another family than the machine's can never make a syscall here: they
// are left out of the filter.
var knownArchs = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
	specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
	specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
	specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
}
