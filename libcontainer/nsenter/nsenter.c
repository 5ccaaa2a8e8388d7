// The namespace stage of `kan init`: see nsenter.go for why it is C and what
// the messages mean. It runs before the Go runtime, single-threaded, and
// either returns (the process goes on into Go, in its namespaces) or exits.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "laststage.h"
#include "sigmask.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

static int sync_fd = -1;

static void send_line(const char *line)
{
	size_t len = strlen(line), off = 0;
	while (off < len) {
		ssize_t n = write(sync_fd, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(1);
		off += n;
	}
}

const char *kan_fail_prefix = "nsenter: ";
int kan_done_fd = -1, kan_fail_status = 1;

void kan_send(const char *line) { send_line(line); }

void kan_send_fd(int fd)
{
	if (kan_send_fd_on(sync_fd, "s", fd) < 0)
		kan_fail("send an fd to kan");
}

// json_append appends s to out (of size cap, at *len) as the inside of a
// JSON string, cut short if need be so that the line's end (the errno
// field, `}` and the newline) always fits.
static void json_append(char *out, size_t cap, size_t *len, const char *s)
{
	for (; *s && *len + 7 + 24 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[(*len)++] = '\\';
			out[(*len)++] = (char)c;
		} else if (c < 0x20) {
			*len += snprintf(out + *len, cap - *len, "\\u%04x", c);
		} else {
			out[(*len)++] = (char)c;
		}
	}
	out[*len] = '\0';
}

// kan_fail reports an error to the parent and exits. The errno goes as a
// number, which kan words as Go does (the C library's texts differ from
// one library to another).
void kan_fail(const char *fmt, ...)
{
	char msg[1024], line[4096];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (kan_done_fd >= 0) {
		// After the init reported ready: start reads the message from
		// exec.done, the errno after a NUL.
		int n = snprintf(line, sizeof(line), "%s%s%c%d", kan_fail_prefix, msg, '\0', saved);
		if (n > (int)sizeof(line) - 1)
			n = (int)sizeof(line) - 1;
		if (write(kan_done_fd, line, (size_t)n) < 0) {
			// Nobody left to tell.
		}
		_exit(kan_fail_status);
	}
	size_t len = (size_t)snprintf(line, sizeof(line), "{\"type\":\"error\",\"msg\":\"");
	json_append(line, sizeof(line), &len, kan_fail_prefix);
	json_append(line, sizeof(line), &len, msg);
	snprintf(line + len, sizeof(line) - len, "\",\"errno\":%d}\n", saved);
	if (sync_fd >= 0)
		send_line(line);
	_exit(kan_fail_status);
}

void kan_wait_for(const char *want)
{
	char buf[128];
	size_t len = 0;
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(sync_fd, buf + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? EPIPE : errno;
			kan_fail("waiting for %s", want);
		}
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	if (strcmp(buf, want) != 0) {
		errno = EPROTO;
		kan_fail("expected %s from parent", want);
	}
}

static int ns_flag(const char *name)
{
	static const struct {
		const char *name;
		int flag;
	} types[] = {
		{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},     {"pid", CLONE_NEWPID},
		{"net", CLONE_NEWNET},   {"ipc", CLONE_NEWIPC},    {"uts", CLONE_NEWUTS},
		{"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return types[i].flag;
	return 0;
}

// join enters the namespaces listed in spec ("fd:type,fd:type"). The user
// namespace goes first, so that the others are entered with the
// capabilities it grants; the rest follow in the order given.
static int join(char *spec)
{
	int fds[16], flags[16], n = 0, joined = 0;
	for (char *item = strtok(spec, ","); item && n < 16; item = strtok(NULL, ",")) {
		char *colon = strchr(item, ':');
		if (!colon) {
			errno = EINVAL;
			kan_fail("bad namespace entry %s", item);
		}
		*colon = '\0';
		fds[n] = atoi(item);
		flags[n] = ns_flag(colon + 1);
		if (!flags[n]) {
			errno = EINVAL;
			kan_fail("unknown namespace type %s", colon + 1);
		}
		n++;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			int user = flags[i] == CLONE_NEWUSER;
			if ((pass == 0) != user)
				continue;
			if (setns(fds[i], flags[i]) < 0)
				kan_fail("setns to %s namespace (fd %d)", user ? "user" : "a", fds[i]);
			close(fds[i]);
			joined |= flags[i];
			if (user) {
				// Become root of the joined namespace: files we create
				// must be owned by a mapped id.
				if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
					kan_fail("become root in the joined user namespace");
			}
		}
	}
	return joined;
}

static void write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		kan_fail("open %s", path);
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		kan_fail("write %s", path);
	close(fd);
}

// kan_hold is the process that holds a new systemd scope for the
// container's init (libcontainer/cgroupdriver.go): systemd starts a scope only
// with a process in it, and kan's init must be cloned into the scope's
// cgroup, not moved there. It waits, without Go, until kan closes its
// stdin (or dies), then exits.
static void kan_hold(void)
{
	char b;
	for (;;) {
		ssize_t n = read(0, &b, 1);
		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);
	}
}

__attribute__((constructor)) static void kan_nsenter(void)
{
	kan_signals_at_start();
	if (getenv("_KAN_HOLD"))
		kan_hold();
	const char *sync_env = getenv("_KAN_SYNC");
	if (!sync_env)
		return;
	sync_fd = atoi(sync_env);
	// Not dumpable until the user program is executed (execve resets
	// it): a process of the container, even root in it, must not ptrace
	// or open /proc/<pid>/ files of kan while kan still holds what
	// belongs to the host.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		kan_fail("prctl(PR_SET_DUMPABLE)");

	int joined = 0, created = 0;
	char *join_env = getenv("_KAN_NS_JOIN");
	if (join_env && *join_env)
		joined = join(strdup(join_env));

	const char *new_env = getenv("_KAN_NS_NEW");
	if (new_env && *new_env)
		created = (int)strtol(new_env, NULL, 16);

	if (created & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			kan_fail("unshare user namespace");
		// Only the parent, outside, may write our id maps. An
		// unprivileged parent (or its newuidmap) can open our
		// /proc/<pid>/uid_map only while we are dumpable: the files of
		// a process that is not are root's. Dumpable for that moment
		// alone, as runc does: nothing of the container runs yet, and
		// only the same user (kan's) could use it.
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			kan_fail("prctl(PR_SET_DUMPABLE)");
		send_line("{\"type\":\"userns\"}\n");
		kan_wait_for("{\"type\":\"userns-done\"}");
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			kan_fail("prctl(PR_SET_DUMPABLE)");
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			kan_fail("become root in the new user namespace");
	}
	int rest = created & ~CLONE_NEWUSER;
	if (rest && unshare(rest) < 0)
		kan_fail("unshare namespaces 0x%x", rest);

	if (created & CLONE_NEWTIME) {
		const char *offsets = getenv("_KAN_TIME_OFFSETS");
		if (offsets && *offsets)
			write_file("/proc/self/timens_offsets", offsets);
	}

	// A new or joined pid or time namespace applies only to children: fork
	// once more so that the process that runs Go is inside it. CLONE_PARENT
	// makes it a child of kan itself, which can then wait for it.
	if ((created | joined) & (CLONE_NEWPID | CLONE_NEWTIME)) {
		pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);
		if (pid < 0)
			kan_fail("fork into the pid namespace");
		if (pid > 0) {
			char line[64];
			snprintf(line, sizeof(line), "{\"type\":\"pid\",\"pid\":%d}\n", pid);
			send_line(line);
			_exit(0);
		}
	} else {
		// pid 0: this process, the one kan started. (getpid would not
		// name it for kan when kan's clone made a new pid namespace.)
		send_line("{\"type\":\"pid\",\"pid\":0}\n");
	}
	// `kan exec`'s process becomes the program here, without the Go
	// runtime (laststage.c), and so does an init whose rootfs kan
	// builds from outside (initstage.c). Any other init goes on into Go.
	const char *stage = getenv("_KAN_STAGE");
	if (stage && strcmp(stage, "exec") == 0)
		kan_exec_stage(sync_fd);
	if (stage && strcmp(stage, "init") == 0)
		kan_init_stage(sync_fd);
}
