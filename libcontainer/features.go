package libcontainer

import (
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/lsm"
	"github.com/kan-runtime/kan/libcontainer/procattr"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
	"github.com/kan-runtime/kan/libcontainer/seccomp"
)

// hasController tells whether the cgroup2 hierarchy offers controller c.
func hasController(c string) bool {
	mnt, err := cgroups.Mountpoint()
	if err != nil {
		return false
	}
	have, err := cgroups.Controllers(mnt)
	return err == nil && slices.Contains(have, c)
}

// memoryPolicy lists the modes and flags this kernel has, or nil where it
// has none (a kernel without NUMA support).
func memoryPolicy() *features.MemoryPolicy {
	modes, flags := procattr.MemoryPolicySupport()
	if len(modes) == 0 {
		return nil
	}
	return &features.MemoryPolicy{Modes: modes, Flags: flags}
}

// Features describes what this kan supports on this host, in the
// runtime-spec features document an engine asks for before it builds a
// config. Every claim is one kan honours; what the host lacks (an LSM,
// resctrl) is reported disabled, since kan refuses configs asking for it.
func Features(annotations map[string]string) *features.Features {
	yes, no := true, false
	boolp := func(b bool) *bool {
		if b {
			return &yes
		}
		return &no
	}
	var caps []string
	for _, c := range capability.ListKnown() {
		caps = append(caps, "CAP_"+strings.ToUpper(c.String()))
	}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  rootfs.MountOptions(),
		Linux: &features.Linux{
			Namespaces: []string{
				string(specs.CgroupNamespace), string(specs.IPCNamespace), string(specs.MountNamespace),
				string(specs.NetworkNamespace), string(specs.PIDNamespace), string(specs.TimeNamespace),
				string(specs.UserNamespace), string(specs.UTSNamespace),
			},
			Capabilities: caps,
			// rdma limits need the rdma controller on the cgroup2
			// hierarchy, which a hybrid host may not give it.
			Cgroup:          &features.Cgroup{V1: &no, V2: &yes, Systemd: &yes, SystemdUser: &no, Rdma: boolp(hasController("rdma"))},
			Seccomp:         seccompFeatures(),
			Apparmor:        &features.Apparmor{Enabled: boolp(lsm.AppArmorEnabled())},
			Selinux:         &features.Selinux{Enabled: boolp(lsm.SELinuxEnabled())},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MemoryPolicy:    memoryPolicy(),
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &yes}},
			NetDevices:      &features.NetDevices{Enabled: &yes},
		},
		Annotations: annotations,
	}
}

// seccompFeatures says what linux.seccomp kan takes on this machine:
// every action and operator of the OCI profile, for the architectures it
// has tables for, with the flags this kernel has.
func seccompFeatures() *features.Seccomp {
	family := seccomp.Native()
	if family == nil {
		no := false
		return &features.Seccomp{Enabled: &no}
	}
	yes := true
	known, values := seccomp.ProfileFlags()
	var supported []string
	for i, name := range known {
		if seccomp.CheckFlags(values[i]) == nil {
			supported = append(supported, name)
		}
	}
	var actions, operators []string
	for _, a := range seccomp.Actions {
		actions = append(actions, string(a))
	}
	for _, op := range seccomp.Operators {
		operators = append(operators, string(op))
	}
	return &features.Seccomp{
		Enabled:        &yes,
		Actions:        actions,
		Operators:      operators,
		Archs:          family.Names(),
		KnownFlags:     known,
		SupportedFlags: supported,
	}
}
