package integration

import (
	"os"
	"strings"
)

// What this host has, read directly from the kernel, so that a test
// expects what kan must do here: refuse a feature the host lacks, use it
// where it exists.

// hostAppArmor tells whether the kernel runs AppArmor (Debian's default).
func hostAppArmor() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(data), "Y")
}

// hostSELinux tells whether the kernel runs SELinux: selinuxfs is mounted.
func hostSELinux() bool {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if _, after, ok := strings.Cut(l, " - "); ok && strings.HasPrefix(after, "selinuxfs ") {
			return true
		}
	}
	return false
}
