// Package lsm applies the Linux security module settings of a config:
// the AppArmor profile and SELinux label the program is executed under,
// and the SELinux label of the container's mounts. An LSM that the host
// does not run cannot confine anything, so a config that asks for one is
// refused rather than run unconfined.
package lsm

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/safeproc"
)

// AppArmorEnabled tells whether the host kernel runs AppArmor.
func AppArmorEnabled() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(data), "Y")
}

// SELinuxEnabled tells whether the host kernel runs SELinux, which then
// has selinuxfs mounted.
func SELinuxEnabled() bool {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("selinuxfs"))
	return err == nil && len(mounts) > 0
}

// Check refuses LSM settings the host cannot honour, naming the field.
func Check(apparmorProfile, selinuxLabel, mountLabel string) error {
	if apparmorProfile != "" && !AppArmorEnabled() {
		return fmt.Errorf("process.apparmorProfile %q: AppArmor is not enabled on this host", apparmorProfile)
	}
	if selinuxLabel != "" && !SELinuxEnabled() {
		return fmt.Errorf("process.selinuxLabel %q: SELinux is not enabled on this host", selinuxLabel)
	}
	if mountLabel != "" && !SELinuxEnabled() {
		return fmt.Errorf("linux.mountLabel %q: SELinux is not enabled on this host", mountLabel)
	}
	return nil
}

// CheckSpec is Check for a whole config.
func CheckSpec(s *specs.Spec) error {
	return Check(s.Process.ApparmorProfile, s.Process.SelinuxLabel, s.Linux.MountLabel)
}

// SetExecAttrs makes the next execve of this thread switch to the AppArmor
// profile and SELinux label given (either may be empty). It writes the
// kernel's per-thread attr files, checking that they really are procfs:
// a container's /proc must not redirect the write elsewhere.
func SetExecAttrs(apparmorProfile, selinuxLabel string) error {
	if apparmorProfile != "" {
		// The LSM-specific file first (5.8+), then the shared one.
		err := writeAttr("attr/apparmor/exec", "exec "+apparmorProfile)
		if errors.Is(err, unix.ENOENT) {
			err = writeAttr("attr/exec", "exec "+apparmorProfile)
		}
		// attr/exec always exists: ENOENT here is AppArmor's answer
		// for a profile it has not loaded.
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("process.apparmorProfile %q: no such AppArmor profile is loaded: %w", apparmorProfile, err)
		}
		if err != nil {
			return fmt.Errorf("process.apparmorProfile %q: %w", apparmorProfile, err)
		}
	}
	if selinuxLabel != "" {
		if err := writeAttr("attr/exec", selinuxLabel); err != nil {
			return fmt.Errorf("process.selinuxLabel %q: %w", selinuxLabel, err)
		}
	}
	return nil
}

// writeAttr writes /proc/thread-self/<subpath> through safeproc: a
// bind mount over /proc/self/attr (even of another procfs file, which an
// fstatfs check alone would accept) cannot redirect it.
func writeAttr(subpath, value string) error {
	return safeproc.WriteThreadSelf(subpath, value)
}

// MountData adds the SELinux context option for label to the data of a
// mount of filesystem type typ, for the filesystems the container creates
// itself (bind mounts keep their files' labels).
func MountData(data, typ, label string) string {
	if label == "" {
		return data
	}
	switch typ {
	case "tmpfs", "devpts", "mqueue", "shm":
	default:
		return data
	}
	opt := fmt.Sprintf("context=%q", label)
	if data == "" {
		return opt
	}
	return data + "," + opt
}
