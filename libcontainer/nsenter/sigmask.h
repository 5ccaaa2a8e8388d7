// Signals held from a foreground `kan run` or `kan exec`'s start:
// sigmask.c, sigmask.go.
#ifndef KAN_SIGMASK_H
#define KAN_SIGMASK_H

#include <stdint.h>

// Set by kan_signals_at_start: whether it blocked every signal, and the
// mask the process had before (the kernel's 64 bits).
extern uint64_t kan_caller_sigmask;
extern int kan_signals_held;

// kan_signals_at_start runs first in every kan process (nsenter.c's
// constructor). In a process kan started with _KAN_SIGMASK, it sets that
// mask, and with _KAN_EXEC too executes that program; in a `kan run` or
// `kan exec` in the foreground, it blocks every signal.
void kan_signals_at_start(void);

// kan_command_line returns the index, in args, of the command kan's
// command line (without argv[0]) names: the first argument that is not a
// global flag or the value of one; -1 if there is none, or a help or
// version flag comes first. *detached tells whether -d or --detach
// follows it, before any "--".
int kan_command_line(int argc, char **args, int *detached);

#endif
