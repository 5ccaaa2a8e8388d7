package systemd

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	sd "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
)

// Properties turns linux.resources into the unit properties systemd has
// for them, as runc does: MemoryMax, MemoryLow, MemorySwapMax, CPUWeight,
// CPUQuotaPerSecUSec and CPUQuotaPeriodUSec, AllowedCPUs,
// AllowedMemoryNodes, TasksMax, IOWeight, IODeviceWeight, the IO bandwidth
// and IOPS limits, DevicePolicy and DeviceAllow. systemd writes the same
// values to the unit's cgroup; kan then writes every field to the files as
// the cgroupfs driver does (cgroups.Set), which also covers what systemd
// has no property for (cpu.max.burst, cpu.idle, hugetlb, rdma, unified)
// and a quota finer than systemd's 10 ms steps. Having systemd know the
// limits keeps a daemon-reload from undoing them.
//
// devices is the effective device rule list (devices.Effective);
// majorName names a major number as /proc/devices does ("" when unknown).
func Properties(r *specs.LinuxResources, devices []specs.LinuxDeviceCgroup, majorName func(typ string, major int64) string) ([]sd.Property, error) {
	var props []sd.Property
	add := func(name string, v any) { props = append(props, sd.Property{Name: name, Value: godbus.MakeVariant(v)}) }
	if r == nil {
		r = &specs.LinuxResources{}
	}
	if m := r.Memory; m != nil {
		limit := deref(m.Limit)
		if limit != 0 {
			add("MemoryMax", limitValue(limit))
		}
		if v := deref(m.Reservation); v != 0 {
			add("MemoryLow", limitValue(v))
		}
		if deref(m.Swap) != 0 || limit == -1 {
			swap, err := cgroups.SwapMax(deref(m.Swap), limit)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.memory.swap: %w", err)
			}
			add("MemorySwapMax", limitValue(swap))
		}
	}
	if c := r.CPU; c != nil {
		if shares := deref(c.Shares); shares != 0 {
			if shares < 2 || shares > 262144 {
				return nil, fmt.Errorf("linux.resources.cpu.shares: %d is out of range (2 to 262144)", shares)
			}
			add("CPUWeight", cgroups.SharesToWeight(shares))
		}
		quota, period := deref(c.Quota), deref(c.Period)
		if period != 0 {
			add("CPUQuotaPeriodUSec", period)
		}
		if quota != 0 || period != 0 {
			add("CPUQuotaPerSecUSec", quotaPerSec(quota, period))
		}
		if c.Cpus != "" {
			bits, err := rangeToBits(c.Cpus)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.cpu.cpus: %w", err)
			}
			add("AllowedCPUs", bits)
		}
		if c.Mems != "" {
			bits, err := rangeToBits(c.Mems)
			if err != nil {
				return nil, fmt.Errorf("linux.resources.cpu.mems: %w", err)
			}
			add("AllowedMemoryNodes", bits)
		}
	}
	if p := r.Pids; p != nil && p.Limit != nil && *p.Limit != 0 {
		add("TasksMax", limitValue(*p.Limit))
	}
	if b := r.BlockIO; b != nil {
		if w := deref(b.Weight); w != 0 {
			if w < 10 || w > 1000 {
				return nil, fmt.Errorf("linux.resources.blockIO.weight: %d is out of range (10 to 1000)", w)
			}
			add("IOWeight", cgroups.BlkioWeightToIOWeight(w))
		}
		var weights []ioDeviceValue
		for _, d := range b.WeightDevice {
			if w := deref(d.Weight); w >= 10 && w <= 1000 {
				weights = append(weights, ioDeviceValue{blockPath(d.Major, d.Minor), cgroups.BlkioWeightToIOWeight(w)})
			}
		}
		if len(weights) > 0 {
			add("IODeviceWeight", weights)
		}
		for _, t := range []struct {
			name string
			devs []specs.LinuxThrottleDevice
		}{
			{"IOReadBandwidthMax", b.ThrottleReadBpsDevice},
			{"IOWriteBandwidthMax", b.ThrottleWriteBpsDevice},
			{"IOReadIOPSMax", b.ThrottleReadIOPSDevice},
			{"IOWriteIOPSMax", b.ThrottleWriteIOPSDevice},
		} {
			var limits []ioDeviceValue
			for _, d := range t.devs {
				rate := d.Rate
				if rate == 0 {
					rate = math.MaxUint64 // as io.max's "max"
				}
				limits = append(limits, ioDeviceValue{blockPath(d.Major, d.Minor), rate})
			}
			if len(limits) > 0 {
				add(t.name, limits)
			}
		}
	}
	if policy, allow, ok := deviceProperties(devices, majorName); ok {
		add("DevicePolicy", policy)
		add("DeviceAllow", allow)
	}
	return props, nil
}

// ioDeviceValue is the D-Bus (st) of systemd's per-device IO properties.
type ioDeviceValue struct {
	Path  string
	Value uint64
}

// deviceAllow is the D-Bus (ss) of DeviceAllow.
type deviceAllow struct {
	Path   string
	Access string
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// limitValue is a limit for systemd: -1 (or any negative) is infinity.
func limitValue(v int64) uint64 {
	if v < 0 {
		return math.MaxUint64
	}
	return uint64(v)
}

// quotaPerSec converts a CFS quota per period to systemd's CPU time per
// second, rounded up to the 10 ms steps systemd keeps (runc rounds the
// same way; cpu.max, written after, has the exact value). No quota is
// infinity; a period alone defaults to the kernel's 100 ms.
func quotaPerSec(quota int64, period uint64) uint64 {
	if quota <= 0 {
		return math.MaxUint64
	}
	if period == 0 {
		period = 100000
	}
	perSec := uint64(quota) * 1000000 / period
	if perSec%10000 != 0 {
		perSec = (perSec/10000 + 1) * 10000
	}
	return perSec
}

// rangeToBits turns a cpuset list ("0-3,8") into systemd's byte array:
// CPU n is bit n%8 of byte n/8.
func rangeToBits(list string) ([]byte, error) {
	var bits big.Int
	for _, part := range strings.Split(strings.TrimSpace(list), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of numbers and ranges", list)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 16); err != nil || last < first {
				return nil, fmt.Errorf("%q is not a list of numbers and ranges", list)
			}
		}
		for n := first; n <= last; n++ {
			bits.SetBit(&bits, int(n), 1)
		}
	}
	be := bits.Bytes() // big-endian
	out := make([]byte, len(be))
	for i, b := range be {
		out[len(be)-1-i] = b
	}
	if len(out) == 0 {
		out = []byte{0}
	}
	return out, nil
}

func blockPath(major, minor int64) string {
	return fmt.Sprintf("/dev/block/%d:%d", major, minor)
}

// deviceProperties expresses the device rules in systemd's terms where
// they can be: DevicePolicy=strict and a DeviceAllow per allowing rule.
// That is possible when the list denies everything first and only allows
// after, which is what engines send; systemd has no "deny" entries, so
// any other list is left to kan's own filter (ok false: no property), as
// is a list that allows every device. kan's filter is attached in either
// case; systemd's program, when there is one, only agrees with it.
func deviceProperties(rules []specs.LinuxDeviceCgroup, majorName func(string, int64) string) (string, []deviceAllow, bool) {
	if len(rules) == 0 || rules[0].Allow || !isAll(rules[0]) {
		return "", nil, false
	}
	allow := []deviceAllow{}
	for _, r := range rules[1:] {
		if !r.Allow {
			return "", nil, false
		}
		if isAll(r) {
			return "", nil, false // everything allowed: no policy at all
		}
		access := r.Access
		if access == "" {
			access = "rwm"
		}
		types := []string{r.Type}
		if r.Type == "" || r.Type == "a" {
			types = []string{"c", "b"}
		}
		for _, t := range types {
			kind := "char"
			if t == "b" {
				kind = "block"
			}
			var path string
			switch {
			case r.Major == nil:
				path = kind + "-*"
			case r.Minor == nil:
				name := majorName(t, *r.Major)
				if name == "" {
					return "", nil, false // systemd names majors only by name
				}
				path = kind + "-" + name
			default:
				path = fmt.Sprintf("/dev/%s/%d:%d", kind, *r.Major, *r.Minor)
			}
			allow = append(allow, deviceAllow{path, access})
		}
	}
	return "strict", allow, true
}

// isAll is a rule about every device with every access.
func isAll(r specs.LinuxDeviceCgroup) bool {
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	return (r.Type == "" || r.Type == "a") && r.Major == nil && r.Minor == nil &&
		strings.Contains(access, "r") && strings.Contains(access, "w") && strings.Contains(access, "m")
}
