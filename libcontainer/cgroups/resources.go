package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A setting is one write to an interface file of the container's cgroup,
// with the controller that provides the file and the config field it comes
// from (for errors).
type setting struct {
	controller string
	file       string
	value      string
	field      string
	// optional settings are skipped when the file does not exist (e.g.
	// hugetlb.<size>.rsvd.max on kernels before 5.7).
	optional bool
	// fallback is written instead when file does not exist (io.bfq.weight
	// where the io controller has no io.weight).
	fallback *setting
}

// Set applies r to the cgroup v2 directory dir, which lies under the
// hierarchy mounted at root: it validates and converts every resource,
// enables the controllers they need in each cgroup from root down to dir's
// parent, then writes the interface files. Devices are not handled here
// (see package devices). Fields left nil or zero mean "not set" and change
// nothing, as engines such as Docker send zero-valued structs.
func Set(root, dir string, r *specs.LinuxResources) error {
	settings, err := plan(r)
	if err != nil {
		return err
	}
	if len(settings) == 0 {
		return nil
	}
	if err := enableControllers(root, dir, settings); err != nil {
		return err
	}
	if m := r.Memory; m != nil && m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate {
		if err := checkMemoryUsage(dir, m); err != nil {
			return err
		}
	}
	for _, s := range settings {
		if err := s.apply(dir); err != nil {
			return err
		}
	}
	return nil
}

func (s setting) apply(dir string) error {
	path := filepath.Join(dir, s.file)
	if s.optional || s.fallback != nil {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if s.fallback != nil {
				return s.fallback.apply(dir)
			}
			return nil
		}
	}
	if err := writeFile(path, s.value); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %s does not exist in %s (the %s controller does not provide it on this kernel)", s.field, s.file, dir, s.controller)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		if s.file == "io.weight" && errors.Is(err, unix.EOPNOTSUPP) {
			// Per-device weights belong to the io.cost controller,
			// which is off until enabled for the device.
			err = fmt.Errorf("%w (enable io.cost for the device in io.cost.qos of the root cgroup)", err)
		}
		return fmt.Errorf("%s: write %q to %s: %w", s.field, s.value, path, err)
	}
	return nil
}

// writeFile writes an interface file without creating it: a missing file
// means a missing controller or kernel feature, never something to make.
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// plan turns r into the writes to make, in order, validating as it goes.
func plan(r *specs.LinuxResources) ([]setting, error) {
	if r == nil {
		return nil, nil
	}
	var all []setting
	for _, part := range []func(*specs.LinuxResources) ([]setting, error){
		memorySettings, cpuSettings, pidsSettings, ioSettings,
		hugetlbSettings, rdmaSettings, networkSettings, unifiedSettings,
	} {
		s, err := part(r)
		if err != nil {
			return nil, err
		}
		all = append(all, s...)
	}
	return all, nil
}

const (
	memoryField = "linux.resources.memory"
	cpuField    = "linux.resources.cpu"
	blockIO     = "linux.resources.blockIO"
)

// limitValue writes a byte limit the cgroup v2 way: a negative value means
// no limit.
func limitValue(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func memorySettings(r *specs.LinuxResources) ([]setting, error) {
	m := r.Memory
	if m == nil {
		return nil, nil
	}
	// cgroup v2 has no kernel memory limits (kmem is accounted in
	// memory.max), no per-cgroup swappiness and no switch for the OOM
	// killer. Refusing them rather than dropping them keeps a container
	// from running with a setting silently ignored. Docker itself drops
	// swappiness and oom-kill-disable on v2 before they reach the runtime.
	switch {
	case m.Kernel != nil && *m.Kernel != 0:
		return nil, fmt.Errorf("%s.kernel: kernel memory limits do not exist on cgroup v2 (kernel memory is counted in memory.max)", memoryField)
	case m.KernelTCP != nil && *m.KernelTCP != 0:
		return nil, fmt.Errorf("%s.kernelTCP: kernel TCP memory limits do not exist on cgroup v2 (TCP buffers are counted in memory.max)", memoryField)
	case m.Swappiness != nil && *m.Swappiness != 0:
		return nil, fmt.Errorf("%s.swappiness: cgroup v2 has no per-cgroup swappiness", memoryField)
	case m.DisableOOMKiller != nil && *m.DisableOOMKiller:
		return nil, fmt.Errorf("%s.disableOOMKiller: cgroup v2 cannot disable the OOM killer (memory.oom.group and memory.high are the closest knobs, through linux.resources.unified)", memoryField)
	}
	var out []setting
	limit := value(m.Limit)
	if m.Reservation != nil && *m.Reservation != 0 {
		out = append(out, setting{"memory", "memory.low", limitValue(*m.Reservation), memoryField + ".reservation", false, nil})
	}
	if swapSet := value(m.Swap) != 0; swapSet || limit == -1 {
		swap, err := SwapMax(value(m.Swap), limit)
		if err != nil {
			return nil, fmt.Errorf("%s.swap: %w", memoryField, err)
		}
		// An unlimited memory limit with swap unset means "both
		// unlimited": implied, so skipped where the kernel does not
		// account swap.
		out = append(out, setting{"memory", "memory.swap.max", limitValue(swap), memoryField + ".swap", !swapSet, nil})
	}
	if limit != 0 {
		out = append(out, setting{"memory", "memory.max", limitValue(limit), memoryField + ".limit", false, nil})
	}
	return out, nil
}

func value[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// SwapMax converts the OCI (and cgroup v1) swap value, a limit on memory
// plus swap together, to cgroup v2's memory.swap.max, a limit on swap
// alone. -1 means unlimited; a limit of -1 with swap unset means both
// unlimited, as it did on v1.
func SwapMax(swap, limit int64) (int64, error) {
	switch {
	case limit == -1 && swap == 0, swap == -1:
		return -1, nil
	case swap < -1:
		return 0, fmt.Errorf("invalid value %d", swap)
	case limit == 0 || limit == -1:
		return 0, fmt.Errorf("a swap limit (%d) needs a memory limit: it is the total of memory and swap", swap)
	case limit < 0:
		return 0, fmt.Errorf("invalid memory limit %d", limit)
	case swap < limit:
		return 0, fmt.Errorf("%d is below the memory limit %d: swap is the total of memory and swap, so it must be at least the memory limit", swap, limit)
	}
	return swap - limit, nil
}

// checkMemoryUsage refuses a memory limit below what the cgroup uses now
// (linux.resources.memory.checkBeforeUpdate): the kernel would reclaim or
// OOM-kill to get there.
func checkMemoryUsage(dir string, m *specs.LinuxMemory) error {
	limit := value(m.Limit)
	if limit <= 0 {
		return nil
	}
	current, err := readUint(filepath.Join(dir, "memory.current"))
	if err != nil {
		return fmt.Errorf("%s.checkBeforeUpdate: read memory usage: %w", memoryField, err)
	}
	if uint64(limit) < current {
		return fmt.Errorf("%s.limit: %d is below the current memory usage %d (checkBeforeUpdate is set)", memoryField, limit, current)
	}
	return nil
}

// SharesToWeight converts cgroup v1 cpu.shares (2..262144, default 1024)
// to cgroup v2 cpu.weight (1..10000, default 100) by mapping one range
// linearly onto the other, the conversion runc and crun use, so that a
// container gets the same weight from every runtime.
func SharesToWeight(shares uint64) uint64 {
	return 1 + ((shares-2)*9999)/262142
}

func cpuSettings(r *specs.LinuxResources) ([]setting, error) {
	c := r.CPU
	if c == nil {
		return nil, nil
	}
	switch {
	case c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0:
		return nil, fmt.Errorf("%s.realtimeRuntime: cgroup v2 has no real-time CPU bandwidth control", cpuField)
	case c.RealtimePeriod != nil && *c.RealtimePeriod != 0:
		return nil, fmt.Errorf("%s.realtimePeriod: cgroup v2 has no real-time CPU bandwidth control", cpuField)
	}
	var out []setting
	if shares := value(c.Shares); shares != 0 {
		if shares < 2 || shares > 262144 {
			return nil, fmt.Errorf("%s.shares: %d is out of range (2 to 262144)", cpuField, shares)
		}
		out = append(out, setting{"cpu", "cpu.weight", strconv.FormatUint(SharesToWeight(shares), 10), cpuField + ".shares", false, nil})
	}
	quota, period := value(c.Quota), value(c.Period)
	if quota != 0 || period != 0 {
		// cpu.max is "$QUOTA $PERIOD"; a lone period keeps the quota
		// unlimited, and a lone quota keeps the current period.
		v := "max"
		if quota > 0 {
			v = strconv.FormatInt(quota, 10)
		}
		if period != 0 {
			v += " " + strconv.FormatUint(period, 10)
		}
		field := cpuField + ".quota"
		if quota == 0 {
			field = cpuField + ".period"
		}
		out = append(out, setting{"cpu", "cpu.max", v, field, false, nil})
	}
	if burst := value(c.Burst); burst != 0 {
		if quota <= 0 {
			return nil, fmt.Errorf("%s.burst: a burst needs a quota (linux.resources.cpu.quota)", cpuField)
		}
		if burst > uint64(quota) {
			return nil, fmt.Errorf("%s.burst: %d is above the quota %d", cpuField, burst, quota)
		}
		// The kernel refuses a quota below the current burst, and a
		// burst above the current quota: clearing the burst first lets
		// both change in any direction.
		out = slices.Insert(out, len(out)-1, setting{"cpu", "cpu.max.burst", "0", cpuField + ".burst", false, nil})
		out = append(out, setting{"cpu", "cpu.max.burst", strconv.FormatUint(burst, 10), cpuField + ".burst", false, nil})
	}
	if c.Idle != nil {
		switch idle := *c.Idle; idle {
		case 1:
			// The kernel gives an idle cgroup the lowest weight and
			// refuses to change it.
			if value(c.Shares) != 0 {
				return nil, fmt.Errorf("%s.idle: an idle cgroup has no weight: leave linux.resources.cpu.shares unset", cpuField)
			}
			out = append(out, setting{"cpu", "cpu.idle", "1", cpuField + ".idle", false, nil})
		case 0:
			// Written, as runc writes it, so that update --cpu-idle 0
			// ends idleness; a kernel without cpu.idle (before 5.15)
			// has no idle cgroups.
			out = append(out, setting{"cpu", "cpu.idle", "0", cpuField + ".idle", true, nil})
		default:
			return nil, fmt.Errorf("%s.idle: %d is not 0 or 1", cpuField, idle)
		}
	}
	if c.Cpus != "" {
		out = append(out, setting{"cpuset", "cpuset.cpus", c.Cpus, cpuField + ".cpus", false, nil})
	}
	if c.Mems != "" {
		out = append(out, setting{"cpuset", "cpuset.mems", c.Mems, cpuField + ".mems", false, nil})
	}
	return out, nil
}

func pidsSettings(r *specs.LinuxResources) ([]setting, error) {
	if r.Pids == nil || value(r.Pids.Limit) == 0 {
		return nil, nil
	}
	// A negative limit (Docker sends -1) means unlimited.
	return []setting{{"pids", "pids.max", limitValue(*r.Pids.Limit), "linux.resources.pids.limit", false, nil}}, nil
}

// BlkioWeightToIOWeight converts a cgroup v1 blkio weight (10..1000,
// default 500) to a cgroup v2 io.weight (1..10000, default 100) linearly,
// as runc and crun do.
func BlkioWeightToIOWeight(w uint16) uint64 {
	return 1 + (uint64(w)-10)*9999/990
}

func ioSettings(r *specs.LinuxResources) ([]setting, error) {
	b := r.BlockIO
	if b == nil {
		return nil, nil
	}
	if value(b.LeafWeight) != 0 {
		return nil, fmt.Errorf("%s.leafWeight: cgroup v2 has no leaf weights", blockIO)
	}
	weight := func(w uint16, field string) (uint64, error) {
		if w < 10 || w > 1000 {
			return 0, fmt.Errorf("%s: %d is out of range (10 to 1000)", field, w)
		}
		return BlkioWeightToIOWeight(w), nil
	}
	var out []setting
	if w := value(b.Weight); w != 0 {
		field := blockIO + ".weight"
		v, err := weight(w, field)
		if err != nil {
			return nil, err
		}
		// io.weight comes with the io.cost controller; where the kernel
		// has only BFQ, its io.bfq.weight takes the v1 range as is.
		bfq := &setting{"io", "io.bfq.weight", strconv.FormatUint(uint64(w), 10), field, false, nil}
		out = append(out, setting{"io", "io.weight", "default " + strconv.FormatUint(v, 10), field, false, bfq})
	}
	for i, d := range b.WeightDevice {
		field := fmt.Sprintf("%s.weightDevice[%d]", blockIO, i)
		if value(d.LeafWeight) != 0 {
			return nil, fmt.Errorf("%s.leafWeight: cgroup v2 has no leaf weights", field)
		}
		if d.Weight == nil {
			continue
		}
		v, err := weight(*d.Weight, field+".weight")
		if err != nil {
			return nil, err
		}
		dev := fmt.Sprintf("%d:%d", d.Major, d.Minor)
		bfq := &setting{"io", "io.bfq.weight", fmt.Sprintf("%s %d", dev, *d.Weight), field, false, nil}
		out = append(out, setting{"io", "io.weight", fmt.Sprintf("%s %d", dev, v), field, false, bfq})
	}
	throttles := []struct {
		name, key string
		devs      []specs.LinuxThrottleDevice
	}{
		{"throttleReadBpsDevice", "rbps", b.ThrottleReadBpsDevice},
		{"throttleWriteBpsDevice", "wbps", b.ThrottleWriteBpsDevice},
		{"throttleReadIOPSDevice", "riops", b.ThrottleReadIOPSDevice},
		{"throttleWriteIOPSDevice", "wiops", b.ThrottleWriteIOPSDevice},
	}
	for _, t := range throttles {
		for i, d := range t.devs {
			rate := "max" // a zero rate removes the limit, as on v1
			if d.Rate != 0 {
				rate = strconv.FormatUint(d.Rate, 10)
			}
			out = append(out, setting{"io", "io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, rate),
				fmt.Sprintf("%s.%s[%d]", blockIO, t.name, i), false, nil})
		}
	}
	return out, nil
}

var pageSize = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+[KMG]B$`) })

func hugetlbSettings(r *specs.LinuxResources) ([]setting, error) {
	var out []setting
	for i, h := range r.HugepageLimits {
		field := fmt.Sprintf("linux.resources.hugepageLimits[%d]", i)
		if !pageSize().MatchString(h.Pagesize) {
			return nil, fmt.Errorf("%s.pageSize: %q is not a huge page size such as 2MB or 1GB", field, h.Pagesize)
		}
		v := strconv.FormatUint(h.Limit, 10)
		out = append(out, setting{"hugetlb", "hugetlb." + h.Pagesize + ".max", v, field, false, nil})
		// The spec says the limit also bounds reservations where the
		// kernel has them (5.7+), so that a mmap cannot reserve more
		// than the container may fault in.
		out = append(out, setting{"hugetlb", "hugetlb." + h.Pagesize + ".rsvd.max", v, field, true, nil})
	}
	return out, nil
}

func rdmaSettings(r *specs.LinuxResources) ([]setting, error) {
	var out []setting
	for _, dev := range slices.Sorted(maps.Keys(r.Rdma)) {
		field := fmt.Sprintf("linux.resources.rdma[%q]", dev)
		if dev == "" || strings.ContainsAny(dev, " \t\n=") {
			return nil, fmt.Errorf("%s: invalid device name", field)
		}
		l := r.Rdma[dev]
		num := func(p *uint32) string {
			if p == nil {
				return "max"
			}
			return strconv.FormatUint(uint64(*p), 10)
		}
		out = append(out, setting{"rdma", "rdma.max",
			fmt.Sprintf("%s hca_handle=%s hca_object=%s", dev, num(l.HcaHandles), num(l.HcaObjects)), field, false, nil})
	}
	return out, nil
}

func networkSettings(r *specs.LinuxResources) ([]setting, error) {
	if n := r.Network; n != nil && (value(n.ClassID) != 0 || len(n.Priorities) > 0) {
		return nil, errors.New("linux.resources.network: cgroup v2 has no net_cls or net_prio controller (use eBPF or the network namespace's own tools)")
	}
	return nil, nil
}

// unifiedSettings writes linux.resources.unified verbatim, after every
// other setting, so that its values win. Keys are "<controller>.<file>";
// the cgroup core's own files ("cgroup.*") are kan's to manage.
func unifiedSettings(r *specs.LinuxResources) ([]setting, error) {
	var out []setting
	for _, key := range slices.Sorted(maps.Keys(r.Unified)) {
		field := fmt.Sprintf("linux.resources.unified[%q]", key)
		controller, rest, ok := strings.Cut(key, ".")
		switch {
		case !ok || controller == "" || rest == "":
			return nil, fmt.Errorf("%s: not an interface file name (want <controller>.<file>, e.g. memory.high)", field)
		case strings.Contains(key, "/") || strings.Contains(key, ".."):
			return nil, fmt.Errorf("%s: must name a file of the container's cgroup, not a path", field)
		case controller == "cgroup":
			return nil, fmt.Errorf("%s: the cgroup core files are managed by kan", field)
		}
		out = append(out, setting{controller, key, r.Unified[key], field, false, nil})
	}
	return out, nil
}

// enableControllers makes the controllers the settings need available in
// dir: each must be in the cgroup.subtree_control of every cgroup from
// root to dir's parent. Controllers already enabled are left as they are.
func enableControllers(root, dir string, settings []setting) error {
	var need []string
	firstField := map[string]string{}
	for _, s := range settings {
		if !slices.Contains(need, s.controller) {
			need = append(need, s.controller)
			firstField[s.controller] = s.field
		}
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is not below the hierarchy root %s", dir, root)
	}
	parent := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		available, err := Controllers(parent)
		if err != nil {
			return fmt.Errorf("read controllers of %s: %w", parent, err)
		}
		enabled, err := subtreeControl(parent)
		if err != nil {
			return err
		}
		for _, c := range need {
			if slices.Contains(enabled, c) {
				continue
			}
			if !slices.Contains(available, c) {
				return fmt.Errorf("%s: the %s controller is not available in %s (has: %v)", firstField[c], c, parent, available)
			}
			if err := writeFile(filepath.Join(parent, "cgroup.subtree_control"), "+"+c); err != nil {
				if errors.Is(err, unix.EBUSY) {
					err = fmt.Errorf("%w (a cgroup with processes of its own cannot pass controllers down; put the container's cgroup elsewhere with linux.cgroupsPath)", err)
				}
				return fmt.Errorf("%s: enable the %s controller in %s: %w", firstField[c], c, parent, err)
			}
		}
		parent = filepath.Join(parent, part)
	}
	return nil
}

func subtreeControl(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil {
		return nil, fmt.Errorf("read controllers enabled in %s: %w", dir, err)
	}
	return strings.Fields(string(data)), nil
}

func readUint(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return ^uint64(0), nil
	}
	return strconv.ParseUint(s, 10, 64)
}
