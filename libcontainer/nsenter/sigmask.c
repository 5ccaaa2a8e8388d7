// Signals held from the first instruction of a `kan run` or `kan exec` in
// the foreground, for forwarding to the container's process (see
// sigmask.go for why, and for the Go side).
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sigmask.h"

extern char **environ;

uint64_t kan_caller_sigmask;
int kan_signals_held;

// Signal masks go through rt_sigprocmask directly, as the kernel's 64
// bits (bit n-1 for signal n): the C library hides the signals it keeps
// for itself (32 to 34) from the masks it reports, and the caller's mask
// is passed on whole.
static int set_mask(int how, uint64_t mask, uint64_t *old)
{
	return (int)syscall(SYS_rt_sigprocmask, how, &mask, old, sizeof(mask));
}

int kan_command_line(int argc, char **argv, int *detached)
{
	int name = -1;
	*detached = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (name < 0) {
			if (!strcmp(a, "--root") || !strcmp(a, "--log") || !strcmp(a, "--log-format") ||
			    !strcmp(a, "--rootless") || !strcmp(a, "--criu")) {
				i++; // its value
			} else if (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-v") ||
				   !strcmp(a, "--version") || !strncmp(a, "--generate-", 11)) {
				return -1;
			} else if (a[0] != '-') {
				name = i;
			}
			continue;
		}
		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "-d") || !strcmp(a, "--detach") || !strcmp(a, "-detach") || !strcmp(a, "-d=true") ||
		    !strcmp(a, "--detach=true"))
			*detached = 1;
	}
	return name;
}

// initial_argv finds the command line. musl calls constructors without
// arguments, but the kernel laid out argc, argv[0..argc-1], NULL and the
// environment one after the other on the initial stack, and environ still
// points there: counting back from the NULL that ends argv, argc is the
// first word equal to the number of words counted (every argv word is a
// pointer, never a small number).
static char **initial_argv(int *argc)
{
	char **end = environ - 1;
	for (long n = 0; n < 1 << 16; n++) {
		if ((long)end[-n - 1] == n) {
			*argc = (int)n;
			return end - n;
		}
	}
	return NULL;
}

// exec_unmasked executes path, the program kan asked for through
// _KAN_EXEC (sigmask.go's Unheld), with argv and the environment but
// for kan's two variables; the mask is already the caller's.
static void exec_unmasked(const char *path, char **argv)
{
	size_t n = 0;
	for (char **e = environ; *e; e++)
		n++;
	char **env = calloc(n + 1, sizeof(char *));
	if (!env)
		_exit(127);
	size_t k = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "_KAN_SIGMASK=", 13) && strncmp(*e, "_KAN_EXEC=", 10))
			env[k++] = *e;
	execve(path, argv, env);
	dprintf(2, "kan: execute %s: %s\n", path, strerror(errno));
	_exit(127);
}

void kan_signals_at_start(void)
{
	int argc = 0;
	char **argv = initial_argv(&argc);
	const char *caller = getenv("_KAN_SIGMASK");
	if (caller) {
		// A process kan started while it held its signals: the mask
		// kan's caller gave kan, before anything else.
		set_mask(SIG_SETMASK, strtoull(caller, NULL, 16), NULL);
		const char *path = getenv("_KAN_EXEC");
		if (path && argv)
			exec_unmasked(path, argv);
		return;
	}
	if (!argv || argc < 2)
		return;
	int detached, name = kan_command_line(argc - 1, argv + 1, &detached);
	if (name < 0 || detached)
		return;
	const char *cmd = argv[1 + name];
	if (strcmp(cmd, "run") && strcmp(cmd, "exec"))
		return;
	uint64_t old;
	if (set_mask(SIG_BLOCK, ~(uint64_t)0, &old) == 0) {
		kan_caller_sigmask = old;
		kan_signals_held = 1;
	}
}
