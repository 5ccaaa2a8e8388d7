// maxrss: run a command and write its peak resident set size (KiB, from
// wait4's rusage) to the file named by $MAXRSS_OUT. A Go program cannot
// measure the peak itself: its children start as vfork copies sharing its
// own memory, which the kernel counts into the child's peak. (The bench
// times commands itself, not through this wrapper.)
//
//	MAXRSS_OUT=FILE maxrss COMMAND [ARGS...]
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: MAXRSS_OUT=FILE maxrss COMMAND [ARGS...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 127;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 127;
	}
	const char *out = getenv("MAXRSS_OUT");
	if (out) {
		FILE *f = fopen(out, "w");
		if (f) {
			fprintf(f, "%ld\n", ru.ru_maxrss);
			fclose(f);
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
