// maxrss: run a command and write its peak resident set size (KiB, from
// wait4's rusage) and its wall time (ns, from just before the fork to the
// end of wait4) to the file named by $MAXRSS_OUT. A Go program cannot
// measure the peak itself: its children start as vfork copies sharing its
// own memory, which the kernel counts into the child's peak. The time is
// taken here so that the wrapper's own start is not counted in it.
//
//	MAXRSS_OUT=FILE maxrss COMMAND [ARGS...]
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: MAXRSS_OUT=FILE maxrss COMMAND [ARGS...]\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
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
	clock_gettime(CLOCK_MONOTONIC, &t1);
	const char *out = getenv("MAXRSS_OUT");
	if (out) {
		FILE *f = fopen(out, "w");
		if (f) {
			long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
			fprintf(f, "%ld %lld\n", ru.ru_maxrss, ns);
			fclose(f);
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
