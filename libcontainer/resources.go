package libcontainer

import (
	"encoding/json"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/cgroups/devices"
	"github.com/kan-runtime/kan/libcontainer/state"
)

// Pause freezes every process of a running container.
func (c *Container) Pause() error {
	if s := c.Status(); s != Running {
		return fmt.Errorf("cannot pause a container that is %s", s)
	}
	if c.State.CgroupPath == "" {
		return errNoCgroup("pause")
	}
	return cgroups.Freeze(c.State.CgroupPath)
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if s := c.Status(); s != Paused {
		return fmt.Errorf("cannot resume a container that is %s", s)
	}
	if c.State.CgroupPath == "" {
		return errNoCgroup("resume")
	}
	return cgroups.Thaw(c.State.CgroupPath)
}

// Update changes the cgroup resources of a live container. The fields set
// (non-zero) in r replace those in force; the others keep their values.
// Devices, when r has any, replace the device list as a whole. The merged
// resources are saved in the state, so that the next update starts from
// them.
func (c *Container) Update(r *specs.LinuxResources) error {
	switch s := c.Status(); s {
	case Created, Running, Paused:
	default:
		return fmt.Errorf("cannot update a container that is %s", s)
	}
	if c.State.CgroupPath == "" {
		return errNoCgroup("update")
	}
	old, err := c.State.Resources.Get()
	if err != nil {
		return fmt.Errorf("read the resources in force: %w", err)
	}
	merged := mergeResources(old, r)
	mnt, err := cgroups.Mountpoint()
	if err != nil {
		return err
	}
	var rules []specs.LinuxDeviceCgroup
	// Rootless, device rules are ignored as create ignored them (an
	// unprivileged user cannot load the filter; the kernel checks
	// devices against the user's own access), as runc does.
	if len(r.Devices) > 0 && !c.State.Rootless {
		// Check the rules before anything changes.
		rules = deviceRules(merged)
		if _, err := devices.Program(rules); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
	}
	if err := setUnitResources(c.State.SystemdUnit, c.State.Rootless, merged); err != nil {
		return err
	}
	if err := cgroups.Set(mnt, c.State.CgroupPath, merged); err != nil {
		return err
	}
	if rules != nil {
		cg, err := os.OpenFile(c.State.CgroupPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open cgroup: %w", err)
		}
		defer cg.Close()
		if err := devices.Apply(int(cg.Fd()), rules); err != nil {
			return fmt.Errorf("linux.resources.devices: %w", err)
		}
	}
	c.State.Resources = state.LazyOf(merged)
	return c.dir.Save(c.State)
}

// mergeResources returns old with the non-zero fields of upd written over
// it. Per-device and per-key lists (block IO devices, huge page sizes,
// RDMA devices, unified keys) are merged entry by entry, as the kernel
// files they go to are.
func mergeResources(old, upd *specs.LinuxResources) *specs.LinuxResources {
	var m specs.LinuxResources
	if old != nil {
		// A deep copy: the pointers of old must not be shared.
		data, _ := json.Marshal(old)
		json.Unmarshal(data, &m)
	}
	if upd == nil {
		return &m
	}
	if len(upd.Devices) > 0 {
		m.Devices = upd.Devices
	}
	if u := upd.Memory; u != nil {
		if m.Memory == nil {
			m.Memory = &specs.LinuxMemory{}
		}
		o := m.Memory
		setNonZero(&o.Limit, u.Limit)
		setNonZero(&o.Reservation, u.Reservation)
		setNonZero(&o.Swap, u.Swap)
		setNonZero(&o.Kernel, u.Kernel)
		setNonZero(&o.KernelTCP, u.KernelTCP)
		setNonZero(&o.Swappiness, u.Swappiness)
		setNonNil(&o.DisableOOMKiller, u.DisableOOMKiller)
		setNonNil(&o.UseHierarchy, u.UseHierarchy)
		setNonNil(&o.CheckBeforeUpdate, u.CheckBeforeUpdate)
	}
	if u := upd.CPU; u != nil {
		if m.CPU == nil {
			m.CPU = &specs.LinuxCPU{}
		}
		o := m.CPU
		setNonZero(&o.Shares, u.Shares)
		setNonZero(&o.Quota, u.Quota)
		setNonZero(&o.Burst, u.Burst)
		setNonZero(&o.Period, u.Period)
		setNonZero(&o.RealtimeRuntime, u.RealtimeRuntime)
		setNonZero(&o.RealtimePeriod, u.RealtimePeriod)
		setNonNil(&o.Idle, u.Idle) // 0 ends idleness
		if u.Cpus != "" {
			o.Cpus = u.Cpus
		}
		if u.Mems != "" {
			o.Mems = u.Mems
		}
	}
	if u := upd.Pids; u != nil {
		if m.Pids == nil {
			m.Pids = &specs.LinuxPids{}
		}
		setNonZero(&m.Pids.Limit, u.Limit)
	}
	if u := upd.BlockIO; u != nil {
		if m.BlockIO == nil {
			m.BlockIO = &specs.LinuxBlockIO{}
		}
		o := m.BlockIO
		setNonZero(&o.Weight, u.Weight)
		setNonZero(&o.LeafWeight, u.LeafWeight)
		o.WeightDevice = mergeBy(o.WeightDevice, u.WeightDevice, func(d specs.LinuxWeightDevice) specs.LinuxBlockIODevice { return d.LinuxBlockIODevice })
		throttleKey := func(d specs.LinuxThrottleDevice) specs.LinuxBlockIODevice { return d.LinuxBlockIODevice }
		o.ThrottleReadBpsDevice = mergeBy(o.ThrottleReadBpsDevice, u.ThrottleReadBpsDevice, throttleKey)
		o.ThrottleWriteBpsDevice = mergeBy(o.ThrottleWriteBpsDevice, u.ThrottleWriteBpsDevice, throttleKey)
		o.ThrottleReadIOPSDevice = mergeBy(o.ThrottleReadIOPSDevice, u.ThrottleReadIOPSDevice, throttleKey)
		o.ThrottleWriteIOPSDevice = mergeBy(o.ThrottleWriteIOPSDevice, u.ThrottleWriteIOPSDevice, throttleKey)
	}
	m.HugepageLimits = mergeBy(m.HugepageLimits, upd.HugepageLimits, func(h specs.LinuxHugepageLimit) string { return h.Pagesize })
	if upd.Network != nil {
		m.Network = upd.Network
	}
	for k, v := range upd.Rdma {
		if m.Rdma == nil {
			m.Rdma = map[string]specs.LinuxRdma{}
		}
		m.Rdma[k] = v
	}
	for k, v := range upd.Unified {
		if m.Unified == nil {
			m.Unified = map[string]string{}
		}
		m.Unified[k] = v
	}
	return &m
}

func setNonZero[T comparable](dst **T, src *T) {
	var zero T
	if src != nil && *src != zero {
		v := *src
		*dst = &v
	}
}

func setNonNil[T any](dst **T, src *T) {
	if src != nil {
		v := *src
		*dst = &v
	}
}

// mergeBy replaces the entries of old whose key is in upd and appends the
// others.
func mergeBy[T any, K comparable](old, upd []T, key func(T) K) []T {
	out := append([]T(nil), old...)
next:
	for _, u := range upd {
		for i := range out {
			if key(out[i]) == key(u) {
				out[i] = u
				continue next
			}
		}
		out = append(out, u)
	}
	return out
}
