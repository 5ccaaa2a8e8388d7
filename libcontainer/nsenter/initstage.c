// The init stage: the init of a container whose rootfs kan builds from
// outside (libcontainer/outside.go), so that no Go runtime starts inside
// the container for `kan create` either. The process is already in its
// namespaces and cgroup; it has read its plan (laststage.h). While a
// thread of kan, in the container's mount namespace, makes the mounts and
// pivots the root (which moves this process's root with it), the init
// serves what only a process inside can do:
//
//	KAN_OP_MOUNT_PROC  a procfs belongs to the pid namespace of the task
//	                   that mounts it: mount one on the fd kan sends
//	KAN_OP_TERMINAL    the pty, from the container's devpts, as
//	                   /dev/console, stdio and controlling terminal
//	KAN_OP_RUN         become the process (laststage.c's kan_become), the
//	                   program found, report ready, wait on exec.fifo for
//	                   `kan start`, set the rlimits, execute the program
//
// Until "ready", a failure goes to kan on the sync socket; after it, to
// `kan start` through exec.done, as with the Go init.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "laststage.h"

// recv_op reads one request and the fd that may come with it (-1: none).
static int recv_op(int sync_fd, struct kan_op *op)
{
	char control[CMSG_SPACE(sizeof(int))];
	size_t got = 0;
	int fd = -1;
	while (got < sizeof(*op)) {
		struct iovec iov = {.iov_base = (char *)op + got, .iov_len = sizeof(*op) - got};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
				     .msg_controllen = sizeof(control)};
		ssize_t n = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? EPIPE : errno;
			kan_fail("read a request from kan");
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int n_fds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < n_fds; i++) {
				int f;
				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (fd < 0)
					fd = f;
				else
					close(f); // one fd per request, no more
			}
		}
		got += (size_t)n;
	}
	if (op->magic != KAN_OP_MAGIC || op->size > KAN_OP_MAX_SIZE) {
		errno = EPROTO;
		kan_fail("malformed request from kan");
	}
	return fd;
}

// mount_proc mounts a procfs of this process's pid namespace on target
// (an O_PATH fd kan resolved inside the rootfs and checked), with the
// config's source, flags and data. The target is the working directory,
// entered by fd, rather than a /proc/self/fd path: no procfs is trusted.
// The mount namespace is the container's, the root still the host's.
static void mount_proc(int sync_fd, const struct kan_op *op, int target)
{
	char *data = calloc(1, op->size + 2);
	if (!data)
		kan_fail("mount proc");
	kan_read_full(sync_fd, data, op->size, "a request");
	const char *source = data, *options = data + strlen(data) + 1;
	if (target < 0 || options > data + op->size) {
		errno = EPROTO;
		kan_fail("malformed request from kan");
	}
	if (fchdir(target) < 0 || mount(source, ".", "proc", (unsigned long)op->flags, *options ? options : NULL) < 0)
		kan_fail("mount proc");
	if (chdir("/") < 0)
		kan_fail("mount proc");
	close(target);
	free(data);
}

// wait_start blocks until `kan start` writes a byte into exec.fifo.
static void wait_start(int fifo)
{
	char c;
	for (;;) {
		ssize_t n = read(fifo, &c, 1);
		if (n == 1)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		_exit(1); // nobody will start us any more
	}
}

void kan_init_stage(int sync_fd)
{
	kan_fail_prefix = "";
	// The name tells `kan state` that the program has not started.
	if (prctl(PR_SET_NAME, "kan-init", 0, 0, 0) < 0)
		kan_fail("name the init");
	kan_catch_signals();

	struct kan_plan plan;
	struct kan_process proc;
	kan_read_plan(sync_fd, &plan, &proc);
	if (!plan.init || plan.root_fd >= 0) {
		errno = EPROTO;
		kan_fail("malformed plan from kan");
	}
	kan_join_keyring(&plan, &proc);

	for (int run = 0; !run;) {
		struct kan_op op;
		int fd = recv_op(sync_fd, &op);
		switch (op.op) {
		case KAN_OP_MOUNT_PROC:
			mount_proc(sync_fd, &op, fd);
			fd = -1;
			break;
		case KAN_OP_TERMINAL:
			if (plan.console_fd < 0) {
				errno = EPROTO;
				kan_fail("malformed request from kan");
			}
			kan_setup_terminal(&plan, 1);
			break;
		case KAN_OP_RUN:
			run = 1;
			break;
		default:
			errno = EPROTO;
			kan_fail("malformed request from kan");
		}
		if (fd >= 0)
			close(fd);
		if (!run)
			kan_send("{\"type\":\"ok\"}\n");
	}

	char *program;
	kan_become(&plan, &proc, &program);
	kan_send("{\"type\":\"ready\"}\n");
	close(sync_fd);
	// From here on, failures are start's to report.
	kan_done_fd = plan.done_fd;
	wait_start(plan.fifo_fd);
	close(plan.fifo_fd);
	kan_run_program(&plan, &proc, program);
}
