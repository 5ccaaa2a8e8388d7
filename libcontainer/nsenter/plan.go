package nsenter

// #include "laststage.h"
import "C"

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/seccomp"
)

// EnvStage set to StageExec makes the process run the exec stage
// (laststage.c) once in its namespaces, and StageInit the init stage
// (initstage.c), instead of going on into Go.
const (
	EnvStage  = "_KAN_STAGE"
	StageExec = "exec"
	StageInit = "init"
)

// Process is a container's process as the applier carries it out: kan's
// model of process.* (and of the linux fields that shape every process of
// the container), checked and turned into numbers once, when the config
// is read (libcontainer/config). The stage itself looks up only what must
// be seen from inside the container: the user's home in its /etc/passwd
// and the program in its PATH.
type Process struct {
	ConsoleSize *[2]uint16 // rows, columns; applied only with a terminal

	OOMScoreAdj  *int
	Personality  *uint64
	Scheduler    *unix.SchedAttr
	IOPriority   *int
	MemoryPolicy *MemoryPolicy
	CPUAffinity  *unix.CPUSet
	Rlimits      []Rlimit

	UID, GID uint32
	Groups   []uint32
	Umask    *uint32

	// Capability sets as bit masks, and the kernel's last capability.
	CapLast                                              uint32
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
	NoNewPrivileges                                      bool

	Cwd  string
	Args []string
	Env  []string

	ApparmorProfile, SelinuxLabel string // "": none

	// How errors name these fields: the config's field and its value.
	SchedulerDesc, IOPriorityDesc, MemoryPolicyDesc, CPUAffinityDesc, GroupsDesc string
}

// ExecPlan is everything the applier does for one process: the process,
// where it finds its fds, and the container's seccomp filter compiled.
type ExecPlan struct {
	Process

	RootFd         int // the container's root, to chroot to
	ConsoleFd      int // -1: no terminal
	FirstCloexecFd int // every fd from here up closes on exec

	// Seccomp is the compiled filter of linux.seccomp (none when empty),
	// installed with SeccompFlags (SECCOMP_FILTER_FLAG_*).
	Seccomp      []unix.SockFilter
	SeccompFlags uint

	// For a container's init (the init stage) only.
	Init           bool
	FifoFd, DoneFd int    // exec.fifo and exec.done
	Keyring        string // "": no session keyring of its own
}

// MemoryPolicy is set_mempolicy(2)'s arguments.
type MemoryPolicy struct {
	Mode    int32 // with its flags
	Nodes   []uint64
	MaxNode uint64
}

// Rlimit is one setrlimit(2).
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// Marshal lays the plan out as laststage.h defines it.
func (p *ExecPlan) Marshal() ([]byte, error) {
	var c C.struct_kan_plan
	c.magic = C.KAN_PLAN_MAGIC
	c.root_fd = C.int32_t(p.RootFd)
	c.console_fd = C.int32_t(p.ConsoleFd)
	if p.ConsoleSize != nil && p.ConsoleFd >= 0 {
		c.console_size = 1
		c.rows, c.cols = C.uint16_t(p.ConsoleSize[0]), C.uint16_t(p.ConsoleSize[1])
	}
	c.first_cloexec_fd = C.int32_t(p.FirstCloexecFd)
	if p.OOMScoreAdj != nil {
		c.set_oom_score_adj = 1
		c.oom_score_adj = C.int32_t(*p.OOMScoreAdj)
	}
	if sc := p.Scheduler; sc != nil {
		c.set_scheduler = 1
		c.sched_policy, c.sched_flags = C.uint32_t(sc.Policy), C.uint64_t(sc.Flags)
		c.sched_nice, c.sched_priority = C.int32_t(sc.Nice), C.uint32_t(sc.Priority)
		c.sched_runtime, c.sched_deadline, c.sched_period = C.uint64_t(sc.Runtime), C.uint64_t(sc.Deadline), C.uint64_t(sc.Period)
	}
	if p.IOPriority != nil {
		c.set_ioprio = 1
		c.ioprio = C.int32_t(*p.IOPriority)
	}
	if p.CPUAffinity != nil {
		c.set_affinity = 1
		for cpu := 0; cpu < C.KAN_PLAN_CPU_WORDS*64; cpu++ {
			if p.CPUAffinity.IsSet(cpu) {
				c.affinity[cpu/64] |= 1 << (cpu % 64)
			}
		}
	}
	if p.Personality != nil {
		c.set_personality = 1
		c.personality = C.uint64_t(*p.Personality)
	}
	if mp := p.MemoryPolicy; mp != nil {
		if len(mp.Nodes) > C.KAN_PLAN_NODE_WORDS {
			return nil, fmt.Errorf("linux.memoryPolicy.nodes: more than %d nodes", C.KAN_PLAN_NODE_WORDS*64)
		}
		c.set_mempolicy = 1
		c.mempolicy_mode = C.int32_t(mp.Mode)
		c.mempolicy_maxnode = C.uint64_t(mp.MaxNode)
		for i, w := range mp.Nodes {
			c.mempolicy_nodes[i] = C.uint64_t(w)
		}
	}
	if len(p.Rlimits) > C.KAN_PLAN_RLIMITS {
		return nil, fmt.Errorf("process.rlimits: more than %d", C.KAN_PLAN_RLIMITS)
	}
	c.nrlimits = C.uint32_t(len(p.Rlimits))
	for i, rl := range p.Rlimits {
		c.rlimits[i].resource = C.uint32_t(rl.Resource)
		c.rlimits[i].soft = C.uint64_t(rl.Soft)
		c.rlimits[i].hard = C.uint64_t(rl.Hard)
	}
	c.uid, c.gid = C.uint32_t(p.UID), C.uint32_t(p.GID)
	c.ngroups = C.uint32_t(len(p.Groups))
	c.umask = -1
	if p.Umask != nil {
		c.umask = C.int32_t(*p.Umask & 0o777) // what umask(2) keeps
	}
	c.cap_last = C.uint32_t(p.CapLast)
	c.cap_bounding, c.cap_effective = C.uint64_t(p.Bounding), C.uint64_t(p.Effective)
	c.cap_permitted, c.cap_inheritable = C.uint64_t(p.Permitted), C.uint64_t(p.Inheritable)
	c.cap_ambient = C.uint64_t(p.Ambient)
	if p.NoNewPrivileges {
		c.no_new_privs = 1
	}
	if len(p.Seccomp) > C.KAN_PLAN_MAX_SECCOMP {
		return nil, fmt.Errorf("linux.seccomp: %d instructions, more than the kernel's %d", len(p.Seccomp), C.KAN_PLAN_MAX_SECCOMP)
	}
	c.seccomp_len, c.seccomp_flags = C.uint32_t(len(p.Seccomp)), C.uint32_t(p.SeccompFlags)
	c.nargs, c.nenv = C.uint32_t(len(p.Args)), C.uint32_t(len(p.Env))
	if p.Init {
		c.init = 1
		c.fifo_fd, c.done_fd = C.int32_t(p.FifoFd), C.int32_t(p.DoneFd)
		if p.Keyring != "" {
			c.new_keyring = 1
		}
	}

	var tail []byte
	for _, g := range p.Groups {
		tail = binary.NativeEndian.AppendUint32(tail, g)
	}
	tail = seccomp.AppendProgram(tail, p.Seccomp)
	for _, s := range p.stringFields() {
		if strings.IndexByte(s.value, 0) >= 0 {
			// C would read it cut short.
			return nil, fmt.Errorf("%s: %q holds a NUL byte", s.field, s.value)
		}
		tail = append(append(tail, s.value...), 0)
	}
	if len(tail) > C.KAN_PLAN_MAX_SIZE {
		return nil, fmt.Errorf("process: arguments and environment take %d bytes, more than execve takes", len(tail))
	}
	c.size = C.uint32_t(len(tail))
	head := unsafe.Slice((*byte)(unsafe.Pointer(&c)), C.sizeof_struct_kan_plan)
	return append(append([]byte{}, head...), tail...), nil
}

// planFixedSize is the size of the plan's fixed part, and planField
// where some of its fields lie: the tests of the plan reader
// (applier_test.go) write there what Marshal never would.
const planFixedSize = C.sizeof_struct_kan_plan

var planField = map[string]uintptr{
	"magic":             unsafe.Offsetof(C.struct_kan_plan{}.magic),
	"size":              unsafe.Offsetof(C.struct_kan_plan{}.size),
	"first_cloexec_fd":  unsafe.Offsetof(C.struct_kan_plan{}.first_cloexec_fd),
	"mempolicy_maxnode": unsafe.Offsetof(C.struct_kan_plan{}.mempolicy_maxnode),
	"nrlimits":          unsafe.Offsetof(C.struct_kan_plan{}.nrlimits),
	"rlimits":           unsafe.Offsetof(C.struct_kan_plan{}.rlimits),
	"uid":               unsafe.Offsetof(C.struct_kan_plan{}.uid),
	"gid":               unsafe.Offsetof(C.struct_kan_plan{}.gid),
	"ngroups":           unsafe.Offsetof(C.struct_kan_plan{}.ngroups),
	"umask":             unsafe.Offsetof(C.struct_kan_plan{}.umask),
	"seccomp_len":       unsafe.Offsetof(C.struct_kan_plan{}.seccomp_len),
	"nargs":             unsafe.Offsetof(C.struct_kan_plan{}.nargs),
	"nenv":              unsafe.Offsetof(C.struct_kan_plan{}.nenv),
	"init":              unsafe.Offsetof(C.struct_kan_plan{}.init),
	"fifo_fd":           unsafe.Offsetof(C.struct_kan_plan{}.fifo_fd),
	"done_fd":           unsafe.Offsetof(C.struct_kan_plan{}.done_fd),
	"new_keyring":       unsafe.Offsetof(C.struct_kan_plan{}.new_keyring),
}

// planString is one of the plan's strings and the field it comes from.
type planString struct{ field, value string }

// stringFields are the plan's strings in their order (see laststage.h).
func (p *ExecPlan) stringFields() []planString {
	strs := []planString{{"process.cwd", p.Cwd}}
	for i, a := range p.Args {
		strs = append(strs, planString{fmt.Sprintf("process.args[%d]", i), a})
	}
	for i, e := range p.Env {
		strs = append(strs, planString{fmt.Sprintf("process.env[%d]", i), e})
	}
	const desc = "the wording of an error"
	return append(strs,
		planString{"process.apparmorProfile", p.ApparmorProfile}, planString{"process.selinuxLabel", p.SelinuxLabel},
		planString{desc, p.SchedulerDesc}, planString{desc, p.IOPriorityDesc}, planString{desc, p.MemoryPolicyDesc},
		planString{desc, p.CPUAffinityDesc}, planString{desc, p.GroupsDesc},
		planString{"the session keyring's name", p.Keyring})
}

// The requests kan makes of the init stage while it builds the rootfs
// (initstage.c).
const (
	OpMountProc = C.KAN_OP_MOUNT_PROC // mount a procfs on the fd sent along
	OpTerminal  = C.KAN_OP_TERMINAL   // set up the terminal and /dev/console
	OpRun       = C.KAN_OP_RUN        // become the process and report ready
)

// MarshalOp lays out one request: its header, then data.
func MarshalOp(op int, flags uint64, data []byte) ([]byte, error) {
	if len(data) > C.KAN_OP_MAX_SIZE {
		return nil, fmt.Errorf("request of %d bytes, more than the init stage takes", len(data))
	}
	var c C.struct_kan_op
	c.magic = C.KAN_OP_MAGIC
	c.op = C.uint32_t(op)
	c.flags = C.uint64_t(flags)
	c.size = C.uint32_t(len(data))
	head := unsafe.Slice((*byte)(unsafe.Pointer(&c)), C.sizeof_struct_kan_op)
	return append(append([]byte{}, head...), data...), nil
}
