package libcontainer

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
)

// resourceNeeds lists, for each non-zero resource of the config, the
// controller it needs. Zero-valued structs (as Docker sends them) ask for
// nothing.
func resourceNeeds(r *specs.LinuxResources) [][2]string {
	if r == nil {
		return nil
	}
	var needs [][2]string
	need := func(set bool, controller, field string) {
		if set {
			needs = append(needs, [2]string{controller, field})
		}
	}
	if m := r.Memory; m != nil {
		need(m.Limit != nil && *m.Limit != 0, "memory", "linux.resources.memory.limit")
		need(m.Reservation != nil && *m.Reservation != 0, "memory", "linux.resources.memory.reservation")
		need(m.Swap != nil && *m.Swap != 0, "memory", "linux.resources.memory.swap")
		need(m.Kernel != nil && *m.Kernel != 0, "memory", "linux.resources.memory.kernel")
		need(m.KernelTCP != nil && *m.KernelTCP != 0, "memory", "linux.resources.memory.kernelTCP")
		need(m.Swappiness != nil && *m.Swappiness != 0, "memory", "linux.resources.memory.swappiness")
		need(m.DisableOOMKiller != nil && *m.DisableOOMKiller, "memory", "linux.resources.memory.disableOOMKiller")
	}
	if c := r.CPU; c != nil {
		need(c.Shares != nil && *c.Shares != 0, "cpu", "linux.resources.cpu.shares")
		need(c.Quota != nil && *c.Quota != 0, "cpu", "linux.resources.cpu.quota")
		need(c.Period != nil && *c.Period != 0, "cpu", "linux.resources.cpu.period")
		need(c.Burst != nil && *c.Burst != 0, "cpu", "linux.resources.cpu.burst")
		need(c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0, "cpu", "linux.resources.cpu.realtimeRuntime")
		need(c.RealtimePeriod != nil && *c.RealtimePeriod != 0, "cpu", "linux.resources.cpu.realtimePeriod")
		need(c.Idle != nil && *c.Idle != 0, "cpu", "linux.resources.cpu.idle")
		need(c.Cpus != "", "cpuset", "linux.resources.cpu.cpus")
		need(c.Mems != "", "cpuset", "linux.resources.cpu.mems")
	}
	if p := r.Pids; p != nil {
		need(p.Limit != nil && *p.Limit != 0, "pids", "linux.resources.pids.limit")
	}
	if b := r.BlockIO; b != nil {
		need(b.Weight != nil && *b.Weight != 0 || b.LeafWeight != nil && *b.LeafWeight != 0 ||
			len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 || len(b.ThrottleWriteBpsDevice) > 0 ||
			len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0, "io", "linux.resources.blockIO")
	}
	need(len(r.HugepageLimits) > 0, "hugetlb", "linux.resources.hugepageLimits")
	need(len(r.Rdma) > 0, "rdma", "linux.resources.rdma")
	need(r.Network != nil, "", "linux.resources.network")
	need(len(r.Unified) > 0, "", "linux.resources.unified")
	return needs
}

// applyResources sets the container's cgroup limits. This version of kan
// applies none yet: a limit whose controller the hierarchy lacks is
// refused with the controller's name, any other limit as not supported.
func applyResources(dir string, r *specs.LinuxResources) error {
	needs := resourceNeeds(r)
	if len(needs) == 0 {
		return nil
	}
	available, err := cgroups.Controllers(dir)
	if err != nil {
		return fmt.Errorf("read controllers of %s: %w", dir, err)
	}
	for _, n := range needs {
		controller, field := n[0], n[1]
		if controller == "" {
			return fmt.Errorf("%s: not supported on cgroup v2 by kan", field)
		}
		if !slices.Contains(available, controller) {
			return fmt.Errorf("%s: the %s controller is not available in the cgroup v2 hierarchy (%s has: %v)", field, controller, dir, available)
		}
		return fmt.Errorf("%s: cgroup resource limits are not supported by this version of kan", field)
	}
	return nil
}
