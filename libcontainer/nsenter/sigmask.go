package nsenter

// #include <stdlib.h>
// #include "sigmask.h"
import "C"

import (
	"fmt"
	"os"
	"os/exec"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Signals held from the start.
//
// `kan run` and `kan exec` in the foreground pass every signal they get on
// to the container's process, as runc does. The Go runtime catches a
// signal for os/signal only once signal.Notify has enabled it, one signal
// at a time, each a round trip to the runtime's signal thread: 2.5 to 5 ms
// for all of them on this project's test machine, during which a signal
// sent to kan is lost or ends it, and which the container's start had to
// wait for. So the C constructor (sigmask.c) blocks every signal of such
// a command before the runtime starts: a signal sent from then on stays
// pending until kan reads it from a signalfd. The runtime unblocks on its
// threads the few it will not leave blocked (SIGHUP, SIGINT, SIGQUIT,
// SIGABRT, SIGTERM, SIGCHLD, SIGURG, the faults): kan asks the runtime for
// those alone, and SIGPIPE (main's signals.go says why), a few round trips
// instead of 64.
//
// Every thread the runtime starts, and every child process it starts,
// gets the mask the process had at its start: all blocked. So each child
// must get the caller's mask back, as it would from runc. kan's own
// executable started by kan (the init and exec stages, the Go init, the
// systemd scope's holder) sets it first thing, from ChildEnv's variable;
// any other program (a hook, newuidmap) is executed through kan's
// executable, which sets the mask and then executes the program (Unheld).

// EnvSigmask gives a process kan starts its caller's signal mask, in hex.
const EnvSigmask = "_KAN_SIGMASK"

// envExec names the program a process started by Unheld executes.
const envExec = "_KAN_EXEC"

// CommandLine returns the command kan's command line (args, without
// argv[0]) names, the first argument that is not a global flag or the
// value of one ("" if there is none, or a help or version flag comes
// first), and whether -d or --detach follows it before any "--". A
// value of --detach spelled otherwise (--detach=1) is not seen: the
// command then holds its signals and catches them as a foreground one
// does, though it forwards none. The constructor decides with the same
// function.
func CommandLine(args []string) (name string, detached bool) {
	cargs := make([]*C.char, len(args)+1)
	for i, a := range args {
		cargs[i] = C.CString(a)
		defer C.free(unsafe.Pointer(cargs[i]))
	}
	var d C.int
	i := int(C.kan_command_line(C.int(len(args)), &cargs[0], &d))
	if i >= 0 {
		name = args[i]
	}
	return name, d != 0
}

// HeldSignals returns the signal mask kan's caller gave it (the kernel's
// 64 bits) and true when the constructor blocked every signal.
func HeldSignals() (caller uint64, held bool) {
	return uint64(C.kan_caller_sigmask), C.kan_signals_held != 0
}

// ChildEnv returns the environment entries that give a kan process kan
// starts the caller's signal mask: none unless kan holds its signals.
func ChildEnv() []string {
	caller, held := HeldSignals()
	if !held {
		return nil
	}
	return []string{fmt.Sprintf("%s=%x", EnvSigmask, caller)}
}

// Unheld makes cmd, not yet started, start with the signal mask kan's
// caller gave kan, when kan holds its signals: cmd then executes kan's
// own executable, whose constructor sets the mask and executes cmd's
// program, with cmd's arguments and environment. The program is checked
// here, so that one that cannot be executed fails to start, with the
// error os/exec gives.
func Unheld(cmd *exec.Cmd) error {
	env := ChildEnv()
	if env == nil || cmd.Err != nil {
		return nil
	}
	if err := unix.Access(cmd.Path, unix.X_OK); err != nil {
		return &os.PathError{Op: "fork/exec", Path: cmd.Path, Err: err}
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(append(cmd.Env[:len(cmd.Env):len(cmd.Env)], env...), envExec+"="+cmd.Path)
	cmd.Path = "/proc/self/exe"
	return nil
}
