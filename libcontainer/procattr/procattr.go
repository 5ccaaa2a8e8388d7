// Package procattr sets the per-process attributes of the OCI config that
// the kernel keeps across execve: execution domain (personality),
// scheduling policy, I/O priority, CPU affinity and NUMA memory policy.
// Each applies to the calling thread, which is the one that executes the
// container's program.
package procattr

import (
	"fmt"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/spec"
)

// Execution domains of personality(2), from linux/personality.h.
const (
	perLinux   = 0x0000
	perLinux32 = 0x0008
)

// Personality sets linux.personality. Only the two Linux domains exist for
// containers; the spec defines no flags yet.
func Personality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	var persona uintptr
	switch p.Domain {
	case specs.PerLinux:
		persona = perLinux
	case specs.PerLinux32:
		persona = perLinux32
	default:
		return fmt.Errorf("linux.personality.domain: unknown domain %q (valid: LINUX, LINUX32)", p.Domain)
	}
	if len(p.Flags) > 0 {
		return fmt.Errorf("linux.personality.flags: %v: no flags are defined", p.Flags)
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_PERSONALITY, persona, 0, 0); errno != 0 {
		return fmt.Errorf("linux.personality: %w", errno)
	}
	return nil
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

// Scheduler sets process.scheduler with sched_setattr(2), which alone
// takes every field of the config (nice, priority, flags, deadline
// parameters) at once.
func Scheduler(s *specs.Scheduler) error {
	if s == nil {
		return nil
	}
	policy, ok := schedPolicies[s.Policy]
	if !ok {
		return fmt.Errorf("process.scheduler.policy: unknown policy %q", s.Policy)
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
			return fmt.Errorf("process.scheduler.flags: unknown flag %q", f)
		}
		attr.Flags |= bit
	}
	if err := unix.SchedSetAttr(0, attr, 0); err != nil {
		return fmt.Errorf("process.scheduler (policy %s, priority %d, nice %d): %w", s.Policy, s.Priority, s.Nice, err)
	}
	return nil
}

// IOPriority sets process.ioPriority with ioprio_set(2) on this thread.
func IOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	const classShift = 13
	const whoProcess = 1
	class := map[specs.IOPriorityClass]int{specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3}[p.Class]
	if class == 0 {
		return fmt.Errorf("process.ioPriority.class: unknown class %q", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return fmt.Errorf("process.ioPriority.priority: %d is not between 0 and 7", p.Priority)
	}
	prio := class<<classShift | p.Priority
	if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, whoProcess, 0, uintptr(prio)); errno != 0 {
		return fmt.Errorf("process.ioPriority (%s %d): %w", p.Class, p.Priority, errno)
	}
	return nil
}

// CPUAffinity pins the calling thread (and so what it executes) to the
// CPUs of list. field names the config field for errors.
func CPUAffinity(field, list string) error {
	if list == "" {
		return nil
	}
	cpus, err := spec.ParseList(list)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	var set unix.CPUSet
	for _, c := range cpus {
		if c >= len(set)*64 {
			return fmt.Errorf("%s: CPU %d is beyond what kan can address", field, c)
		}
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("%s %q: %w", field, list, err)
	}
	return nil
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

// MemoryPolicy sets linux.memoryPolicy with set_mempolicy(2).
func MemoryPolicy(p *specs.LinuxMemoryPolicy) error {
	if p == nil {
		return nil
	}
	mode, ok := mpolModes[p.Mode]
	if !ok {
		return fmt.Errorf("linux.memoryPolicy.mode: unknown mode %q", p.Mode)
	}
	for _, f := range p.Flags {
		bit, ok := mpolFlags[f]
		if !ok {
			return fmt.Errorf("linux.memoryPolicy.flags: unknown flag %q", f)
		}
		mode |= bit
	}
	// MPOL_DEFAULT and MPOL_LOCAL take no nodes; the others need some.
	var mask []uint64
	if p.Nodes != "" {
		nodes, err := spec.ParseList(p.Nodes)
		if err != nil {
			return fmt.Errorf("linux.memoryPolicy.nodes: %w", err)
		}
		for _, n := range nodes {
			for n/64 >= len(mask) {
				mask = append(mask, 0)
			}
			mask[n/64] |= 1 << (n % 64)
		}
	}
	var maskPtr, maxNode uintptr
	if len(mask) > 0 {
		maskPtr = uintptr(unsafe.Pointer(&mask[0]))
		// maxnode counts bits, and the kernel ignores the last one.
		maxNode = uintptr(len(mask)*64 + 1)
	}
	if _, _, errno := unix.Syscall(unix.SYS_SET_MEMPOLICY, mode, maskPtr, maxNode); errno != 0 {
		return fmt.Errorf("linux.memoryPolicy (mode %s, nodes %q): %w", p.Mode, p.Nodes, errno)
	}
	return nil
}
