package nsenter

// #include <stdlib.h>
// #include "laststage.h"
import "C"

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Applier is the plan of a container's process in the hands of the one
// applier, the C of laststage.c: the exec stage and the C init call it
// directly, the Go init through Applier, so that "become the container's
// process" is written once. Each method runs on the calling thread, which
// must be locked (runtime.LockOSThread) and is the one that executes the
// program: credentials, capabilities and no_new_privs belong to a thread.
//
// A failure does not return: the applier reports it to kan on the sync
// socket (before ready) or in exec.done (after, see Run) and exits, as the
// other two callers do.
type Applier struct {
	plan    *C.struct_kan_plan
	proc    *C.struct_kan_process
	program *C.char
}

// Load checks and unpacks plan (ExecPlan.Marshal's bytes). The memory is
// C's and lives until the program is executed.
func Load(plan []byte) *Applier {
	p := &Applier{
		plan: (*C.struct_kan_plan)(C.calloc(1, C.sizeof_struct_kan_plan)),
		proc: (*C.struct_kan_process)(C.calloc(1, C.sizeof_struct_kan_process)),
	}
	buf := C.CBytes(plan)
	defer C.free(buf)
	C.kan_load_plan(buf, C.size_t(len(plan)), p.plan, p.proc)
	return p
}

// JoinKeyring joins the session keyring of the container's own that the
// plan names, if any.
func (p *Applier) JoinKeyring() { C.kan_join_keyring(p.plan, p.proc) }

// SetupTerminal makes the terminal, if the plan has one, and binds it to
// /dev/console.
func (p *Applier) SetupTerminal() {
	if p.plan.console_fd >= 0 {
		C.kan_setup_terminal(p.plan, 1)
	}
}

// Become makes this thread the plan's process, up to its LSM labels, and
// looks the program up in the container's PATH.
func (p *Applier) Become() {
	var program *C.char
	C.kan_become(p.plan, p.proc, &program)
	p.program = program
}

// FifoFd and DoneFd are the init's exec.fifo and exec.done.
func (p *Applier) FifoFd() int { return int(p.plan.fifo_fd) }
func (p *Applier) DoneFd() int { return int(p.plan.done_fd) }

// Run executes the program, after setting the rlimits. From now on a
// failure is written to exec.done, for kan start to report. It does not
// return.
func (p *Applier) Run() {
	if p.plan.init != 0 { // only an init's plan has an exec.done
		C.kan_done_fd = p.plan.done_fd
	}
	C.kan_run_program(p.plan, p.proc, p.program)
}

// unpacked is the plan's variable part as Load unpacked it: the groups,
// the seccomp instructions, and the strings in their order (see
// laststage.h). For the tests of the plan reader.
func (p *Applier) unpacked() (groups []uint32, filter []unix.SockFilter, strs []string) {
	if n := p.plan.ngroups; n > 0 {
		groups = append(groups, unsafe.Slice((*uint32)(unsafe.Pointer(p.proc.groups)), n)...)
	}
	if n := p.plan.seccomp_len; n > 0 { // struct sock_filter's layout
		filter = append(filter, unsafe.Slice((*unix.SockFilter)(p.proc.seccomp), n)...)
	}
	strs = append(strs, C.GoString(p.proc.cwd))
	for _, s := range unsafe.Slice(p.proc.argv, p.plan.nargs) {
		strs = append(strs, C.GoString(s))
	}
	for _, s := range unsafe.Slice(p.proc.envp, p.plan.nenv) {
		strs = append(strs, C.GoString(s))
	}
	strs = append(strs, C.GoString(p.proc.apparmor), C.GoString(p.proc.selinux))
	for _, s := range p.proc.desc {
		strs = append(strs, C.GoString(s))
	}
	return groups, filter, append(strs, C.GoString(p.proc.keyring))
}
