package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats is a cgroup's resource usage in the shape `runc events` prints
// (runc's types.Stats and its JSON names), so that tools reading runc's
// output read kan's. A section whose controller is not enabled in the
// cgroup is nil and left out of the JSON.
type Stats struct {
	CPU     *CPUStats               `json:"cpu,omitempty"`
	Memory  *MemoryStats            `json:"memory,omitempty"`
	Pids    *PidsStats              `json:"pids,omitempty"`
	Blkio   *BlkioStats             `json:"blkio,omitempty"`
	Hugetlb map[string]HugetlbStats `json:"hugetlb,omitempty"`
}

// CPUStats are in nanoseconds, as runc reports them.
type CPUStats struct {
	Usage      CPUUsage   `json:"usage"`
	Throttling Throttling `json:"throttling"`
}

type CPUUsage struct {
	Total  uint64 `json:"total,omitempty"`
	Kernel uint64 `json:"kernel"`
	User   uint64 `json:"user"`
}

type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// MemoryEntry is one memory counter; a limit of "max" is reported as the
// largest uint64, as runc does.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

type MemoryStats struct {
	Cache uint64      `json:"cache,omitempty"`
	Usage MemoryEntry `json:"usage"`
	// Swap counts memory and swap together, as cgroup v1 (and runc on
	// v2) report it, so that consumers see one meaning on both.
	Swap *MemoryEntry      `json:"swap,omitempty"`
	Raw  map[string]uint64 `json:"raw,omitempty"`
}

type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
}

type HugetlbStats struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// ReadStats reads the usage counters of the cgroup dir. Files that do not
// exist (a controller not enabled) leave their section out; any other
// read error is returned.
func ReadStats(dir string) (*Stats, error) {
	var s Stats
	var err error
	if s.CPU, err = cpuStats(dir); err != nil {
		return nil, err
	}
	if s.Memory, err = memoryStats(dir); err != nil {
		return nil, err
	}
	if s.Pids, err = pidsStats(dir); err != nil {
		return nil, err
	}
	if s.Blkio, err = blkioStats(dir); err != nil {
		return nil, err
	}
	if s.Hugetlb, err = hugetlbStats(dir); err != nil {
		return nil, err
	}
	return &s, nil
}

// missing tells whether err only says that a file is not there.
func missing(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// readKeyed reads a flat keyed file ("key value" per line), such as
// cpu.stat, memory.stat or memory.events.
func readKeyed(path string) (map[string]uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			m[k] = n
		}
	}
	return m, nil
}

func cpuStats(dir string) (*CPUStats, error) {
	m, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cpu.stat: %w", err)
	}
	return &CPUStats{
		Usage: CPUUsage{
			Total:  m["usage_usec"] * 1000,
			Kernel: m["system_usec"] * 1000,
			User:   m["user_usec"] * 1000,
		},
		Throttling: Throttling{
			Periods:          m["nr_periods"],
			ThrottledPeriods: m["nr_throttled"],
			ThrottledTime:    m["throttled_usec"] * 1000,
		},
	}, nil
}

func memoryStats(dir string) (*MemoryStats, error) {
	usage, err := readUint(filepath.Join(dir, "memory.current"))
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read memory.current: %w", err)
	}
	m := &MemoryStats{Usage: MemoryEntry{Usage: usage}}
	if m.Usage.Limit, err = readUint(filepath.Join(dir, "memory.max")); err != nil {
		return nil, fmt.Errorf("read memory.max: %w", err)
	}
	// memory.peak is 5.19+.
	if m.Usage.Max, err = readUint(filepath.Join(dir, "memory.peak")); err != nil && !missing(err) {
		return nil, fmt.Errorf("read memory.peak: %w", err)
	}
	events, err := readKeyed(filepath.Join(dir, "memory.events"))
	if err != nil {
		return nil, fmt.Errorf("read memory.events: %w", err)
	}
	m.Usage.Failcnt = events["max"] // times usage hit memory.max
	if m.Raw, err = readKeyed(filepath.Join(dir, "memory.stat")); err != nil {
		return nil, fmt.Errorf("read memory.stat: %w", err)
	}
	m.Cache = m.Raw["file"]
	// Swap files exist only with swap accounting.
	swapUsage, err := readUint(filepath.Join(dir, "memory.swap.current"))
	if err == nil {
		swapLimit, err := readUint(filepath.Join(dir, "memory.swap.max"))
		if err != nil {
			return nil, fmt.Errorf("read memory.swap.max: %w", err)
		}
		m.Swap = &MemoryEntry{Usage: usage + swapUsage, Limit: addLimits(m.Usage.Limit, swapLimit)}
	} else if !missing(err) {
		return nil, fmt.Errorf("read memory.swap.current: %w", err)
	}
	return m, nil
}

// addLimits adds two limits, where the largest uint64 stands for "max".
func addLimits(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func pidsStats(dir string) (*PidsStats, error) {
	current, err := readUint(filepath.Join(dir, "pids.current"))
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pids.current: %w", err)
	}
	limit, err := readUint(filepath.Join(dir, "pids.max"))
	if err != nil {
		return nil, fmt.Errorf("read pids.max: %w", err)
	}
	return &PidsStats{Current: current, Limit: limit}, nil
}

// blkioStats reads io.stat: one line per device, "MAJ:MIN rbytes=N
// wbytes=N rios=N wios=N ...".
func blkioStats(dir string) (*BlkioStats, error) {
	data, err := os.ReadFile(filepath.Join(dir, "io.stat"))
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read io.stat: %w", err)
	}
	b := &BlkioStats{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		majS, minS, _ := strings.Cut(fields[0], ":")
		major, err1 := strconv.ParseUint(majS, 10, 64)
		minor, err2 := strconv.ParseUint(minS, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := BlkioEntry{Major: major, Minor: minor, Value: n}
			switch k {
			case "rbytes":
				e.Op = "Read"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "wbytes":
				e.Op = "Write"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "rios":
				e.Op = "Read"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			case "wios":
				e.Op = "Write"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			}
		}
	}
	return b, nil
}

// hugetlbStats reads hugetlb.<size>.current and .events for every huge
// page size, keyed by the size ("2MB").
func hugetlbStats(dir string) (map[string]HugetlbStats, error) {
	files, err := filepath.Glob(filepath.Join(dir, "hugetlb.*.current"))
	if err != nil || len(files) == 0 {
		return nil, nil
	}
	out := map[string]HugetlbStats{}
	for _, f := range files {
		size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "hugetlb."), ".current")
		if strings.Contains(size, ".") {
			continue // hugetlb.<size>.rsvd.current
		}
		usage, err := readUint(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Base(f), err)
		}
		events, err := readKeyed(filepath.Join(dir, "hugetlb."+size+".events"))
		if err != nil && !missing(err) {
			return nil, fmt.Errorf("read hugetlb.%s.events: %w", size, err)
		}
		out[size] = HugetlbStats{Usage: usage, Failcnt: events["max"]}
	}
	return out, nil
}

// OOMKills returns how many processes of dir and its descendants the OOM
// killer has killed (oom_kill in memory.events). ok is false when the
// memory controller is not enabled in dir.
func OOMKills(dir string) (n uint64, ok bool, err error) {
	events, err := readKeyed(filepath.Join(dir, "memory.events"))
	if missing(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read memory.events: %w", err)
	}
	return events["oom_kill"], true, nil
}

// AllPids lists the processes of dir and of every cgroup below it.
func AllPids(dir string) ([]int, error) {
	var all []int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != dir && missing(err) {
				return nil // a sub-cgroup removed while we walked
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		pids, err := Pids(path)
		if err != nil {
			if path != dir && missing(err) {
				return nil
			}
			return err
		}
		all = append(all, pids...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", dir, err)
	}
	return all, nil
}
