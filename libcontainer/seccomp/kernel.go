package seccomp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// seccompSetModeFilter is SECCOMP_SET_MODE_FILTER.
const seccompSetModeFilter = 1

// CheckFlags tells whether this kernel takes every filter flag of flags,
// naming the first it does not. It asks the kernel without installing
// anything: seccomp(2) with a flag it knows and no program fails with
// EFAULT, with one it does not, EINVAL.
func CheckFlags(flags uint) error {
	for _, f := range flagNames {
		if flags&f.value == 0 {
			continue
		}
		probe := f.value
		if f.value == FlagWaitKillableRecv || f.value == FlagTsyncEsrch {
			probe |= FlagNewListener // each is refused without one
		}
		_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, seccompSetModeFilter, uintptr(probe), 0)
		switch {
		case errors.Is(e, unix.EFAULT):
		case errors.Is(e, unix.EINVAL):
			return fmt.Errorf("%s: %s: this kernel does not have it", fieldFlags, f.name)
		default:
			return fmt.Errorf("%s: %s: ask the kernel: %v", fieldFlags, f.name, e)
		}
	}
	// Flags each taken may still be refused together (TSYNC with a
	// listener needs TSYNC_ESRCH). WAIT_KILLABLE_RECV goes only with a
	// listener (planSeccomp drops it otherwise).
	together := flags
	if together&FlagWaitKillableRecv != 0 {
		together |= FlagNewListener
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, seccompSetModeFilter, uintptr(together), 0); !errors.Is(e, unix.EFAULT) {
		return fmt.Errorf("%s: this kernel does not take them together (%#x): %v", fieldFlags, flags, e)
	}
	return nil
}
