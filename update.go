package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

func updateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change the cgroup resources of a container",
		ArgsUsage: "<container-id>",
		Description: `Resources come from --resources (a linux.resources JSON object, as
engines send it) and from the flags, which override its fields. Fields that
are not set, or zero, keep their current values. Devices in --resources
replace the container's device rules as a whole.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "JSON file of linux.resources to apply, or - for stdin"},
			&cli.StringFlag{Name: "memory", Usage: "memory limit (bytes, or with a unit: 100m, 1g; -1 for none)"},
			&cli.StringFlag{Name: "memory-reservation", Usage: "memory reservation (memory.low)"},
			&cli.StringFlag{Name: "memory-swap", Usage: "limit of memory and swap together (-1 for no swap limit)"},
			&cli.StringFlag{Name: "kernel-memory", Usage: "not supported on cgroup v2"},
			&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "not supported on cgroup v2"},
			&cli.Uint64Flag{Name: "cpu-share", Aliases: []string{"cpu-shares"}, Usage: "CPU shares (2 to 262144, converted to cpu.weight)"},
			&cli.Int64Flag{Name: "cpu-quota", Usage: "CPU time in microseconds per period (-1 for none)"},
			&cli.Uint64Flag{Name: "cpu-period", Usage: "CPU bandwidth period in microseconds"},
			&cli.Uint64Flag{Name: "cpu-burst", Usage: "CPU time in microseconds a period may borrow from idle ones"},
			&cli.Int64Flag{Name: "cpu-idle", Usage: "1 to give the container SCHED_IDLE's priority (cpu.idle)"},
			&cli.Int64Flag{Name: "cpu-rt-runtime", Usage: "not supported on cgroup v2"},
			&cli.Uint64Flag{Name: "cpu-rt-period", Usage: "not supported on cgroup v2"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs the container may use (0-3, 0,1)"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes the container may use"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of processes (-1 for none)"},
			&cli.Uint16Flag{Name: "blkio-weight", Usage: "block IO weight (10 to 1000, converted to io.weight)"},
			&cli.StringFlag{Name: "l3-cache-schema", Hidden: true, Usage: "Intel RDT: not supported"},
			&cli.StringFlag{Name: "mem-bw-schema", Hidden: true, Usage: "Intel RDT: not supported"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			id, err := containerID(cmd)
			if err != nil {
				return err
			}
			r, err := updateResources(cmd)
			if err != nil {
				return err
			}
			c, err := libcontainer.Open(cmd.Root().String("root"), id)
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Update(r)
		},
	}
}

// updateResources reads --resources and lays the flags over it.
func updateResources(cmd *cli.Command) (*specs.LinuxResources, error) {
	for _, f := range []string{"kernel-memory", "kernel-memory-tcp", "cpu-rt-runtime", "cpu-rt-period"} {
		if cmd.IsSet(f) {
			return nil, fmt.Errorf("--%s: not supported on cgroup v2", f)
		}
	}
	for _, f := range []string{"l3-cache-schema", "mem-bw-schema"} {
		if cmd.IsSet(f) {
			return nil, fmt.Errorf("--%s: Intel RDT is not supported by kan", f)
		}
	}
	r := &specs.LinuxResources{}
	if path := cmd.String("resources"); path != "" {
		var in io.Reader = os.Stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("--resources: %w", err)
			}
			defer f.Close()
			in = f
		}
		dec := json.NewDecoder(in)
		if err := dec.Decode(r); err != nil {
			return nil, fmt.Errorf("--resources %s: %w", path, err)
		}
	}
	memory := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	sizes := []struct {
		flag string
		dst  func() **int64
	}{
		{"memory", func() **int64 { return &memory().Limit }},
		{"memory-reservation", func() **int64 { return &memory().Reservation }},
		{"memory-swap", func() **int64 { return &memory().Swap }},
	}
	for _, s := range sizes {
		if !cmd.IsSet(s.flag) {
			continue
		}
		v, err := parseSize(cmd.String(s.flag))
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", s.flag, err)
		}
		*s.dst() = &v
	}
	if cmd.IsSet("cpu-share") {
		v := cmd.Uint64("cpu-share")
		cpu().Shares = &v
	}
	if cmd.IsSet("cpu-quota") {
		v := cmd.Int64("cpu-quota")
		cpu().Quota = &v
	}
	if cmd.IsSet("cpu-period") {
		v := cmd.Uint64("cpu-period")
		cpu().Period = &v
	}
	if cmd.IsSet("cpu-burst") {
		v := cmd.Uint64("cpu-burst")
		cpu().Burst = &v
	}
	if cmd.IsSet("cpu-idle") {
		v := cmd.Int64("cpu-idle")
		cpu().Idle = &v
	}
	if cmd.IsSet("cpuset-cpus") {
		cpu().Cpus = cmd.String("cpuset-cpus")
	}
	if cmd.IsSet("cpuset-mems") {
		cpu().Mems = cmd.String("cpuset-mems")
	}
	if cmd.IsSet("pids-limit") {
		v := cmd.Int64("pids-limit")
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	if cmd.IsSet("blkio-weight") {
		v := cmd.Uint16("blkio-weight")
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = &v
	}
	return r, nil
}

var sizeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?) ?(?:([kmgtp])i?b?|b)?$`) })

// parseSize reads a byte size as runc's and Docker's flags take it: plain
// bytes, or a number with a binary unit (k, m, g, t, p, optionally
// followed by "b" or "ib", any case: 100m, 1.5GiB), or -1 for unlimited.
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	m := sizeRE().FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, fmt.Errorf("invalid size %q (want bytes, a number with a unit such as 100m or 1g, or -1)", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	if m[2] != "" {
		n *= float64(int64(1) << (10 * (strings.Index("kmgtp", m[2]) + 1)))
	}
	if n >= 1<<63 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(n), nil
}
