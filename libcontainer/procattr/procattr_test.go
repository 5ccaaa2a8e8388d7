package procattr

import (
	"fmt"
	"os"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// kernelAtLeast tells whether the running kernel is major.minor or later.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		t.Fatalf("kernel release %q: %v", u.Release, err)
	}
	return ma > major || ma == major && mi >= minor
}

// TestMemoryPolicySupport: the probe finds the modes every NUMA kernel of
// 6.1 or later has, and MPOL_WEIGHTED_INTERLEAVE exactly from Linux 6.9.
func TestMemoryPolicySupport(t *testing.T) {
	if _, err := os.Stat("/sys/devices/system/node"); err != nil {
		t.Skip("kernel without NUMA support: no memory policies")
	}
	modes, flags := MemoryPolicySupport()
	for _, m := range []specs.MemoryPolicyModeType{specs.MpolDefault, specs.MpolBind, specs.MpolInterleave,
		specs.MpolPreferred, specs.MpolPreferredMany, specs.MpolLocal} {
		if !slices.Contains(modes, string(m)) {
			t.Errorf("mode %s missing: %v", m, modes)
		}
	}
	if got, want := slices.Contains(modes, string(specs.MpolWeightedInterleave)), kernelAtLeast(t, 6, 9); got != want {
		t.Errorf("MPOL_WEIGHTED_INTERLEAVE found %v, kernel 6.9 or later %v", got, want)
	}
	if len(flags) != 3 {
		t.Errorf("flags: %v, want all three", flags)
	}
}
