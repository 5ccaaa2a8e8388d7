// Package procattr sets the per-process attributes of the OCI config that
// the kernel keeps across execve: execution domain (personality),
// scheduling policy, I/O priority, CPU affinity and NUMA memory policy.
// Each applies to the calling thread, which is the one that executes the
// container's program. For `kan exec`, whose process runs no Go, each also
// has its system call's arguments and its error's wording, which the exec
// stage (libcontainer/nsenter) uses.
package procattr

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/spec"
)

// Execution domains of personality(2), from linux/personality.h.
const (
	perLinux   = 0x0000
	perLinux32 = 0x0008
)

// Persona is personality(2)'s argument for p. Only the two Linux domains
// exist for containers; the spec defines no flags yet.
func Persona(p *specs.LinuxPersonality) (uint64, error) {
	var persona uint64
	switch p.Domain {
	case specs.PerLinux:
		persona = perLinux
	case specs.PerLinux32:
		persona = perLinux32
	default:
		return 0, fmt.Errorf("linux.personality.domain: unknown domain %q (valid: LINUX, LINUX32)", p.Domain)
	}
	if len(p.Flags) > 0 {
		return 0, fmt.Errorf("linux.personality.flags: %v: no flags are defined", p.Flags)
	}
	return persona, nil
}

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

// SchedulerAttr is sched_setattr(2)'s argument for process.scheduler,
// which alone takes every field of the config (nice, priority, flags,
// deadline parameters) at once.
func SchedulerAttr(s *specs.Scheduler) (*unix.SchedAttr, error) {
	policy, ok := schedPolicies[s.Policy]
	if !ok {
		return nil, fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
	}
	attr := &unix.SchedAttr{
		Size:     unix.SizeofSchedAttr,
		Policy:   policy,
		Nice:     s.Nice,
		Priority: uint32(s.Priority),
		Runtime:  s.Runtime,
		Deadline: s.Deadline,
		Period:   s.Period,
	}
	for _, f := range s.Flags {
		bit, ok := schedFlags[f]
		if !ok {
			return nil, fmt.Errorf("process.scheduler.flags: unknown flag %q", f)
		}
		attr.Flags |= bit
	}
	return attr, nil
}

// SchedulerField names process.scheduler in errors.
func SchedulerField(s *specs.Scheduler) string {
	return fmt.Sprintf("process.scheduler (policy %s, priority %d, nice %d)", s.Policy, s.Priority, s.Nice)
}

// IOPriorityValue is ioprio_set(2)'s priority for process.ioPriority.
func IOPriorityValue(p *specs.LinuxIOPriority) (int, error) {
	const classShift = 13
	class := map[specs.IOPriorityClass]int{specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3}[p.Class]
	if class == 0 {
		return 0, fmt.Errorf("process.ioPriority.class: unknown class %q", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return 0, fmt.Errorf("process.ioPriority.priority: %d is not between 0 and 7", p.Priority)
	}
	return class<<classShift | p.Priority, nil
}

// IOPriorityField names process.ioPriority in errors.
func IOPriorityField(p *specs.LinuxIOPriority) string {
	return fmt.Sprintf("process.ioPriority (%s %d)", p.Class, p.Priority)
}

// CPUSetOf is the CPU mask of list. field names the config field for
// errors.
func CPUSetOf(field, list string) (*unix.CPUSet, error) {
	cpus, err := spec.ParseList(list)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	var set unix.CPUSet
	for _, c := range cpus {
		if c >= len(set)*64 {
			return nil, fmt.Errorf("%s: CPU %d is beyond what kan can address", field, c)
		}
		set.Set(c)
	}
	return &set, nil
}

var mpolModes = map[specs.MemoryPolicyModeType]uintptr{
	specs.MpolDefault: unix.MPOL_DEFAULT, specs.MpolPreferred: unix.MPOL_PREFERRED,
	specs.MpolBind: unix.MPOL_BIND, specs.MpolInterleave: unix.MPOL_INTERLEAVE,
	specs.MpolLocal: unix.MPOL_LOCAL, specs.MpolPreferredMany: unix.MPOL_PREFERRED_MANY,
	specs.MpolWeightedInterleave: unix.MPOL_WEIGHTED_INTERLEAVE,
}

var mpolFlags = map[specs.MemoryPolicyFlagType]uintptr{
	specs.MpolFNumaBalancing: unix.MPOL_F_NUMA_BALANCING,
	specs.MpolFRelativeNodes: unix.MPOL_F_RELATIVE_NODES,
	specs.MpolFStaticNodes:   unix.MPOL_F_STATIC_NODES,
}

// MemoryPolicySupport lists the linux.memoryPolicy modes and flags this
// kernel knows (MPOL_WEIGHTED_INTERLEAVE came with Linux 6.9). The
// probe is mbind(2) of an empty range: the kernel checks the mode and
// flags as set_mempolicy(2) does, then has nothing to do.
func MemoryPolicySupport() (modes, flags []string) {
	known := func(mode uintptr) bool {
		_, _, errno := unix.Syscall6(unix.SYS_MBIND, 0, 0, mode, 0, 0, 0)
		return errno == 0
	}
	for _, m := range []specs.MemoryPolicyModeType{
		specs.MpolDefault, specs.MpolBind, specs.MpolInterleave, specs.MpolWeightedInterleave,
		specs.MpolPreferred, specs.MpolPreferredMany, specs.MpolLocal,
	} {
		if known(mpolModes[m]) {
			modes = append(modes, string(m))
		}
	}
	// MPOL_F_NUMA_BALANCING is valid with MPOL_BIND only.
	for _, f := range []specs.MemoryPolicyFlagType{specs.MpolFNumaBalancing, specs.MpolFRelativeNodes, specs.MpolFStaticNodes} {
		if known(unix.MPOL_BIND | mpolFlags[f]) {
			flags = append(flags, string(f))
		}
	}
	return modes, flags
}

// MemoryPolicyArgs are set_mempolicy(2)'s arguments for p: the mode with
// its flags, the node mask and the number of bits the kernel reads of it.
func MemoryPolicyArgs(p *specs.LinuxMemoryPolicy) (mode uintptr, mask []uint64, maxNode uintptr, err error) {
	mode, ok := mpolModes[p.Mode]
	if !ok {
		return 0, nil, 0, fmt.Errorf("linux.memoryPolicy.mode: unknown mode %q", p.Mode)
	}
	for _, f := range p.Flags {
		bit, ok := mpolFlags[f]
		if !ok {
			return 0, nil, 0, fmt.Errorf("linux.memoryPolicy.flags: unknown flag %q", f)
		}
		mode |= bit
	}
	// MPOL_DEFAULT and MPOL_LOCAL take no nodes; the others need some.
	if p.Nodes != "" {
		nodes, err := spec.ParseList(p.Nodes)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("linux.memoryPolicy.nodes: %w", err)
		}
		for _, n := range nodes {
			for n/64 >= len(mask) {
				mask = append(mask, 0)
			}
			mask[n/64] |= 1 << (n % 64)
		}
	}
	if len(mask) > 0 {
		// maxnode counts bits, and the kernel ignores the last one.
		maxNode = uintptr(len(mask)*64 + 1)
	}
	return mode, mask, maxNode, nil
}

// MemoryPolicyField names linux.memoryPolicy in errors.
func MemoryPolicyField(p *specs.LinuxMemoryPolicy) string {
	return fmt.Sprintf("linux.memoryPolicy (mode %s, nodes %q)", p.Mode, p.Nodes)
}
