// Package lsm applies the Linux security module settings of a config:
// the AppArmor profile and SELinux label the program is executed under,
// and the SELinux label of the container's mounts. An LSM that the host
// does not run cannot confine anything, so a config that asks for one is
// refused rather than run unconfined.
package lsm

import (
	"fmt"
	"os"
	"strings"

	"github.com/moby/sys/mountinfo"
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
