// Package seccomp compiles the linux.seccomp profile of an OCI config into
// the classic BPF program that seccomp(2) installs, in Go: kan needs no
// libseccomp.
//
// The program, for a machine of the amd64 family with x86 and x32 in the
// profile:
//
//	ld arch
//	arch == x86_64 ? → x86_64 : arch == i386 ? → x86 : kill
//	x86_64: ld nr; nr ≥ x32 bit ? → x32
//	        [nr > highest number the profile names ? return ENOSYS]
//	        a binary search over the syscalls the profile decides on,
//	        down to leaves of a few: nr == N ? (its rules in order, first
//	        match; its unconditional action; the default)
//	        return the default action
//	x32, x86: the same with their numbers
//
// What the profile says is kept as libseccomp (and so runc) reads it:
//   - an architecture kan has no table for is never one a process here can
//     make syscalls with: it is left out; the native one is always in;
//   - a syscall name an architecture does not know is skipped there;
//   - the rules of one syscall are taken in the profile's order as
//     libseccomp adds them: a rule with the default action is redundant;
//     an unconditional rule replaces the conditional ones before it, and
//     after it nothing more is added (Podman's profile names setns twice);
//     of the conditional rules, the first whose conditions all hold
//     decides, the default when none does;
//   - the arguments of a 32-bit architecture are compared on their low
//     32 bits, those of the others on all 64, with the 32-bit comparisons
//     classic BPF has;
//   - a syscall numbered above every one the profile names fails with
//     ENOSYS rather than the default action (unless that allows, logs or
//     traces it, as runc decides), so
//     that a C library falls back to an older call it knows the profile
//     decides on (runc's answer to clone3 and its successors).
package seccomp

import (
	"fmt"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SECCOMP_RET_* of linux/seccomp.h.
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retUserNotif   = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	retDataMask    = 0x0000ffff
)

// Offsets in struct seccomp_data (little-endian).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// MaxInstructions is BPF_MAXINSNS, the most the kernel takes.
const MaxInstructions = 4096

// badArch is what a syscall made with an architecture the filter does not
// list gets: libseccomp's default, SCMP_ACT_KILL.
const badArch = retKillThread

// Filter is a compiled profile.
type Filter struct {
	Program []unix.SockFilter
	// Flags are the SECCOMP_FILTER_FLAG_* of linux.seccomp.flags.
	Flags uint
	// Notify: some rule returns SCMP_ACT_NOTIFY, so the filter must be
	// installed with SECCOMP_FILTER_FLAG_NEW_LISTENER and its fd sent to
	// linux.seccomp.listenerPath.
	Notify bool
	// Unknown are the syscall names the native architecture does not
	// know, left out (a caller logs them at debug level).
	Unknown []string
}

// Filter flags of linux/seccomp.h that a profile may ask for.
const (
	FlagTsync             = 1 << 0
	FlagLog               = 1 << 1
	FlagSpecAllow         = 1 << 2
	FlagNewListener       = 1 << 3
	FlagTsyncEsrch        = 1 << 4
	FlagWaitKillableRecv  = 1 << 5
	maxErrno              = 4095
	maxArgIndex           = 5
	defaultErrno          = uint(unix.EPERM)
	enosys                = uint32(unix.ENOSYS)
	fieldSeccomp          = "linux.seccomp"
	fieldSyscalls         = fieldSeccomp + ".syscalls"
	fieldDefaultAction    = fieldSeccomp + ".defaultAction"
	fieldDefaultErrnoRet  = fieldSeccomp + ".defaultErrnoRet"
	fieldArchitectures    = fieldSeccomp + ".architectures"
	fieldFlags            = fieldSeccomp + ".flags"
	fieldListenerPath     = fieldSeccomp + ".listenerPath"
	fieldListenerMetadata = fieldSeccomp + ".listenerMetadata"
)

// flagNames are the SECCOMP_FILTER_FLAG_* kan knows: the first four are
// those a profile may name (linux.seccomp.flags), the others kan sets.
var flagNames = []struct {
	name  specs.LinuxSeccompFlag
	value uint
}{
	{"SECCOMP_FILTER_FLAG_TSYNC", FlagTsync},
	{specs.LinuxSeccompFlagLog, FlagLog},
	{specs.LinuxSeccompFlagSpecAllow, FlagSpecAllow},
	{specs.LinuxSeccompFlagWaitKillableRecv, FlagWaitKillableRecv},
	{"SECCOMP_FILTER_FLAG_NEW_LISTENER", FlagNewListener},
	{"SECCOMP_FILTER_FLAG_TSYNC_ESRCH", FlagTsyncEsrch},
}

// profileFlagCount is how many of flagNames a profile may name.
const profileFlagCount = 4

// ProfileFlags are the linux.seccomp.flags kan takes, with their values.
func ProfileFlags() (names []string, values []uint) {
	for _, f := range flagNames[:profileFlagCount] {
		names, values = append(names, string(f.name)), append(values, f.value)
	}
	return names, values
}

// flagValue is the value of a linux.seccomp.flags entry.
func flagValue(f specs.LinuxSeccompFlag) (uint, bool) {
	for _, known := range flagNames[:profileFlagCount] {
		if known.name == f {
			return known.value, true
		}
	}
	return 0, false
}

// Actions and Operators are those of the OCI profile kan compiles (action
// and knownOp decide on them).
var (
	Actions = []specs.LinuxSeccompAction{
		specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
		specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
	}
	Operators = []specs.LinuxSeccompOperator{
		specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
	}
)

// action is the SECCOMP_RET_* value of an OCI action; errnoRet, when set,
// is its data (ERRNO and TRACE only).
func action(a specs.LinuxSeccompAction, errnoRet *uint, field string) (uint32, error) {
	data := func() (uint32, error) {
		v := defaultErrno
		if errnoRet != nil {
			v = *errnoRet
		}
		if v > maxErrno {
			return 0, fmt.Errorf("%s: errnoRet %d is more than the largest errno, %d", field, v, maxErrno)
		}
		return uint32(v), nil
	}
	var ret uint32
	switch a {
	case specs.ActErrno:
		d, err := data()
		return retErrno | d, err
	case specs.ActTrace:
		d, err := data()
		return retTrace | d, err
	case specs.ActKill, specs.ActKillThread:
		ret = retKillThread
	case specs.ActKillProcess:
		ret = retKillProcess
	case specs.ActTrap:
		ret = retTrap
	case specs.ActAllow:
		ret = retAllow
	case specs.ActLog:
		ret = retLog
	case specs.ActNotify:
		ret = retUserNotif
	default:
		return 0, fmt.Errorf("%s: unknown action %q", field, a)
	}
	if errnoRet != nil {
		return 0, fmt.Errorf("%s: errnoRet is set, but %s returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one)", field, a)
	}
	return ret, nil
}

// applierSyscalls are what the process makes, under its new filter, to
// hand the listener of a SCMP_ACT_NOTIFY filter to kan (laststage.c): a
// notification for one of them would never be answered (runc refuses
// notify on write for the same reason).
var applierSyscalls = []string{"write", "read", "sendmsg"}

// rule is one syscalls[] entry for one syscall, checked.
type rule struct {
	conds []specs.LinuxSeccompArg
	ret   uint32
	index int // in syscalls[], for errors
}

// syscallRules are the rules of one syscall number on one architecture.
type syscallRules struct {
	nr          uint32
	conditional []rule
	always      *rule // the unconditional rule, if any
}

// Compile compiles profile for a machine of the given family.
func Compile(profile *specs.LinuxSeccomp, family Family) (*Filter, error) {
	if len(family) == 0 {
		return nil, fmt.Errorf("%s: kan has no syscall tables for this machine's architecture", fieldSeccomp)
	}
	f := &Filter{}
	def, err := action(profile.DefaultAction, profile.DefaultErrnoRet, fieldDefaultAction)
	if err != nil {
		return nil, err
	}
	if profile.DefaultAction == specs.ActNotify {
		return nil, fmt.Errorf("%s: SCMP_ACT_NOTIFY cannot be the default action", fieldDefaultAction)
	}
	for i, fl := range profile.Flags {
		v, ok := flagValue(fl)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: unknown flag %q", fieldFlags, i, fl)
		}
		f.Flags |= v
	}
	archs, err := profileArchs(profile.Architectures, family)
	if err != nil {
		return nil, err
	}
	rules, err := checkRules(profile.Syscalls)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		f.Notify = f.Notify || r.ret == retUserNotif
	}
	if f.Notify && profile.ListenerPath == "" {
		return nil, fmt.Errorf("%s: SCMP_ACT_NOTIFY needs a listenerPath to send the notify fd to", fieldSyscalls)
	}
	if !f.Notify && profile.ListenerPath != "" {
		return nil, fmt.Errorf("%s: set, but no rule returns SCMP_ACT_NOTIFY", fieldListenerPath)
	}
	if profile.ListenerMetadata != "" && profile.ListenerPath == "" {
		return nil, fmt.Errorf("%s: set without a listenerPath", fieldListenerMetadata)
	}
	f.Unknown = unknownNames(profile.Syscalls, family[0])

	a := &asm{insns: make([]insn, 0, 4096)}
	perArch := make(map[*arch][]syscallRules, len(archs))
	for _, ar := range archs {
		if perArch[ar], err = bySyscall(profile.Syscalls, rules, ar, def); err != nil {
			return nil, err
		}
	}
	emitProgram(a, archs, perArch, def)
	prog, err := a.assemble()
	if err != nil {
		return nil, err
	}
	if len(prog) > MaxInstructions {
		return nil, fmt.Errorf("%s: the profile compiles to %d BPF instructions, more than the kernel's limit of %d", fieldSeccomp, len(prog), MaxInstructions)
	}
	f.Program = prog
	return f, nil
}

// profileArchs are the architectures of family the filter decides for:
// the native one, and those of the profile's list that are of family.
func profileArchs(names []specs.Arch, family Family) ([]*arch, error) {
	archs := []*arch{family[0]}
	for i, name := range names {
		a := family.find(name)
		switch {
		case a != nil:
			if !slices.Contains(archs, a) {
				archs = append(archs, a)
			}
		case !slices.Contains(knownArchs, name):
			return nil, fmt.Errorf("%s[%d]: unknown architecture %q", fieldArchitectures, i, name)
		}
	}
	return archs, nil
}

// checkRules checks each syscalls[] entry and gives its action.
func checkRules(syscalls []specs.LinuxSyscall) ([]rule, error) {
	rules := make([]rule, len(syscalls))
	for i, sc := range syscalls {
		field := fmt.Sprintf("%s[%d]", fieldSyscalls, i)
		if len(sc.Names) == 0 {
			return nil, fmt.Errorf("%s.names: empty: a rule names the syscalls it is for", field)
		}
		ret, err := action(sc.Action, sc.ErrnoRet, field+".action")
		if err != nil {
			return nil, err
		}
		if ret == retUserNotif {
			for _, name := range sc.Names {
				if slices.Contains(applierSyscalls, name) {
					return nil, fmt.Errorf("%s: SCMP_ACT_NOTIFY on %q: the process makes it itself to hand the listener over, and would wait for a notification no one can answer yet", field, name)
				}
			}
		}
		for j, arg := range sc.Args {
			afield := fmt.Sprintf("%s.args[%d]", field, j)
			if arg.Index > maxArgIndex {
				return nil, fmt.Errorf("%s.index: %d, but a syscall has arguments 0 to %d", afield, arg.Index, maxArgIndex)
			}
			if !knownOp(arg.Op) {
				return nil, fmt.Errorf("%s.op: unknown operator %q", afield, arg.Op)
			}
		}
		rules[i] = rule{conds: sc.Args, ret: ret, index: i}
	}
	return rules, nil
}

func knownOp(op specs.LinuxSeccompOperator) bool { return slices.Contains(Operators, op) }

// unknownNames are the names of the profile that a does not know.
func unknownNames(syscalls []specs.LinuxSyscall, a *arch) []string {
	var out []string
	for _, sc := range syscalls {
		for _, name := range sc.Names {
			if _, ok := a.number(name); !ok && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// bySyscall groups the rules by syscall number on a, in number order,
// the way libseccomp (and so runc and crun) adds them one by one: a rule
// whose action is the default is redundant and left out (runc skips it);
// an unconditional rule replaces the syscall's conditional ones, and once
// a syscall has one, later rules for it change nothing. Every syscall the
// profile names stays in the list, rules or not: the ENOSYS bound counts
// them all.
func bySyscall(syscalls []specs.LinuxSyscall, rules []rule, a *arch, def uint32) ([]syscallRules, error) {
	var out []syscallRules
	at := make(map[uint32]int) // number → index in out
	find := func(nr uint32) *syscallRules {
		i, ok := at[nr]
		if !ok {
			i = len(out)
			at[nr] = i
			out = append(out, syscallRules{nr: nr})
		}
		return &out[i]
	}
	add := func(nr uint32, r rule) {
		s := find(nr)
		switch {
		case r.ret == def || s.always != nil:
		case len(r.conds) > 0:
			s.conditional = append(s.conditional, r)
		default:
			s.always, s.conditional = &r, nil
		}
	}
	for i, sc := range syscalls {
		for _, name := range sc.Names {
			nr, ok := a.number(name)
			if !ok {
				continue
			}
			add(nr, rules[i])
			// On x86 a socket or SysV IPC call can also be made through
			// its multiplexer, socketcall(2) or ipc(2), with the call's
			// number as the first argument: libseccomp adds that rule
			// too. Only for a rule without conditions: those of the
			// call's own arguments cannot be seen through the
			// multiplexer's.
			if mux, call, ok := multiplexed(a, name); ok && len(rules[i].conds) == 0 {
				r := rules[i]
				r.conds = []specs.LinuxSeccompArg{{Index: 0, Value: uint64(call), Op: specs.OpEqualTo}}
				add(mux, r)
			}
		}
	}
	// In number order: sort the numbers, then take the rules by them.
	nrs := make([]uint32, 0, len(out))
	for nr := range at {
		nrs = append(nrs, nr)
	}
	slices.Sort(nrs)
	sorted := make([]syscallRules, len(out))
	for i, nr := range nrs {
		sorted[i] = out[at[nr]]
	}
	return sorted, nil
}

// emitProgram writes the whole filter (see the package documentation).
func emitProgram(a *asm, archs []*arch, perArch map[*arch][]syscallRules, def uint32) {
	entry := make(map[*arch]label, len(archs))
	a.loadWord(offArch)
	for _, ar := range archs {
		if ar == archX32 {
			continue // x86_64's audit architecture: split by number there
		}
		entry[ar] = a.newLabel()
		a.jeq(ar.audit, entry[ar], next)
	}
	a.ret(badArch)
	var x32 label = -1
	if slices.Contains(archs, archX32) {
		x32 = a.newLabel()
	}
	for _, ar := range archs {
		if ar == archX32 {
			continue
		}
		a.place(entry[ar])
		a.loadWord(offNr)
		if ar == archX86_64 {
			notX32 := a.newLabel()
			a.jge(x32Bit, next, notX32)
			if x32 >= 0 {
				a.jump(x32)
			} else {
				a.ret(badArch)
			}
			a.place(notX32)
		}
		emitArch(a, ar, perArch[ar], def)
		if ar == archX86_64 && x32 >= 0 {
			a.place(x32)
			emitArch(a, archX32, perArch[archX32], def)
		}
	}
}

// emitArch writes the rules of one architecture; the syscall number is in
// A.
func emitArch(a *asm, ar *arch, rules []syscallRules, def uint32) {
	if len(rules) > 0 && def != retAllow && def != retLog && def&^retDataMask != retTrace {
		tooNew := a.newLabel()
		a.jgt(rules[len(rules)-1].nr, tooNew, next)
		defer func() {
			a.place(tooNew)
			a.ret(retErrno | enosys)
		}()
	}
	emitSearch(a, ar, segments(rules, def))
}

// segment is a run of syscall numbers lo..hi decided alike: by ret, or,
// for one number, by its rules. The segments of an architecture cover
// every number from 0 up, those the profile does not decide on with the
// default.
type segment struct {
	lo, hi uint32
	ret    uint32        // the action; with rules, when none holds
	rules  *syscallRules // a syscall with conditional rules
}

// segments cuts the numbers into runs (rules is in number order):
// consecutive syscalls with the same unconditional action are one run,
// and so are the numbers between them, which the default decides.
func segments(rules []syscallRules, def uint32) []segment {
	var out []segment
	add := func(lo, hi, ret uint32, r *syscallRules) {
		if n := len(out); n > 0 && r == nil && out[n-1].rules == nil && out[n-1].ret == ret && out[n-1].hi+1 == lo {
			out[n-1].hi = hi
			return
		}
		out = append(out, segment{lo: lo, hi: hi, ret: ret, rules: r})
	}
	next := uint32(0)
	for i := range rules {
		s := &rules[i]
		if s.nr > next {
			add(next, s.nr-1, def, nil)
		}
		switch {
		case len(s.conditional) > 0:
			add(s.nr, s.nr, def, s) // bySyscall: no unconditional rule with them
		case s.always != nil:
			add(s.nr, s.nr, s.always.ret, nil)
		default:
			add(s.nr, s.nr, def, nil)
		}
		next = s.nr + 1
	}
	add(next, ^uint32(0), def, nil)
	return out
}

// emitSearch finds the segment of the number in A by binary search, then
// decides as it says. A syscall runs through about log2(n) comparisons
// rather than one per syscall named: Docker's profile names some 400, and
// the kernel also runs the filter for every syscall number when it
// installs it (its cache of always-allowed syscalls), so the filter's
// size is paid at every create.
func emitSearch(a *asm, ar *arch, segs []segment) {
	if len(segs) > 1 {
		mid := len(segs) / 2
		upper := a.newLabel()
		a.jge(segs[mid].lo, upper, next)
		emitSearch(a, ar, segs[:mid])
		a.place(upper)
		emitSearch(a, ar, segs[mid:])
		return
	}
	seg := segs[0]
	if seg.rules != nil {
		for _, r := range seg.rules.conditional {
			fail := a.newLabel()
			for _, c := range r.conds {
				emitCond(a, ar, c, fail)
			}
			a.ret(r.ret)
			a.place(fail)
		}
	}
	a.ret(seg.ret)
}

// emitCond writes the test of one argument condition: it goes on to the
// next instruction when it holds, to fail when not.
func emitCond(a *asm, ar *arch, c specs.LinuxSeccompArg, fail label) {
	lo := func(v uint64) uint32 { return uint32(v) }
	hi := func(v uint64) uint32 { return uint32(v >> 32) }
	offLo := uint32(offArgs + 8*c.Index)
	offHi := offLo + 4
	if ar.bits32 {
		a.loadWord(offLo)
		switch c.Op {
		case specs.OpEqualTo:
			a.jeq(lo(c.Value), next, fail)
		case specs.OpNotEqual:
			a.jeq(lo(c.Value), fail, next)
		case specs.OpGreaterThan:
			a.jgt(lo(c.Value), next, fail)
		case specs.OpGreaterEqual:
			a.jge(lo(c.Value), next, fail)
		case specs.OpLessThan:
			a.jge(lo(c.Value), fail, next)
		case specs.OpLessEqual:
			a.jgt(lo(c.Value), fail, next)
		case specs.OpMaskedEqual:
			a.and(lo(c.Value))
			a.jeq(lo(c.ValueTwo), next, fail)
		}
		return
	}
	pass := a.newLabel()
	a.loadWord(offHi)
	switch c.Op {
	case specs.OpEqualTo:
		a.jeq(hi(c.Value), next, fail)
		a.loadWord(offLo)
		a.jeq(lo(c.Value), next, fail)
	case specs.OpNotEqual:
		a.jeq(hi(c.Value), next, pass)
		a.loadWord(offLo)
		a.jeq(lo(c.Value), fail, next)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.jgt(hi(c.Value), pass, next)
		a.jeq(hi(c.Value), next, fail)
		a.loadWord(offLo)
		if c.Op == specs.OpGreaterThan {
			a.jgt(lo(c.Value), next, fail)
		} else {
			a.jge(lo(c.Value), next, fail)
		}
	case specs.OpLessThan, specs.OpLessEqual:
		a.jge(hi(c.Value), next, pass)
		a.jgt(hi(c.Value), fail, next)
		a.loadWord(offLo)
		if c.Op == specs.OpLessThan {
			a.jge(lo(c.Value), fail, next)
		} else {
			a.jgt(lo(c.Value), fail, next)
		}
	case specs.OpMaskedEqual:
		a.and(hi(c.Value))
		a.jeq(hi(c.ValueTwo), next, fail)
		a.loadWord(offLo)
		a.and(lo(c.Value))
		a.jeq(lo(c.ValueTwo), next, fail)
	}
	a.place(pass)
}

// multiplexed tells, for a socket or SysV IPC syscall on x86, the number
// of its multiplexer (socketcall or ipc) and its call number there
// (linux/net.h SYS_*, and the ipc(2) calls of linux/ipc.h).
func multiplexed(a *arch, name string) (mux, call uint32, ok bool) {
	if a != archX86 {
		return 0, 0, false
	}
	sockets := []string{"", "socket", "bind", "connect", "listen", "accept", "getsockname", "getpeername",
		"socketpair", "send", "recv", "sendto", "recvfrom", "shutdown", "setsockopt", "getsockopt", "sendmsg",
		"recvmsg", "accept4", "recvmmsg", "sendmmsg"}
	if i := slices.Index(sockets, name); i > 0 {
		nr, _ := a.number("socketcall")
		return nr, uint32(i), true
	}
	ipcs := map[string]uint32{"semop": 1, "semget": 2, "semctl": 3, "semtimedop": 4, "msgsnd": 11, "msgrcv": 12,
		"msgget": 13, "msgctl": 14, "shmat": 21, "shmdt": 22, "shmget": 23, "shmctl": 24}
	if call, ok := ipcs[name]; ok {
		nr, _ := a.number("ipc")
		return nr, call, true
	}
	return 0, 0, false
}
