// The applier: the one implementation of "become the container's
// process", in C, for its three callers — the exec stage (the process
// `kan exec` adds, which never starts the Go runtime), the C init
// (initstage.c) and the Go init (through applier.go). kan turned the
// process's config into numbers (execplan.go, plan.go); here the process,
// already in the container's namespaces and cgroup, does from inside the
// container, in this order:
//
//	root         chroot to the init's root, handed over as an fd
//	terminal     a pty from the container's devpts, master sent to the
//	             console socket, slave as stdio and controlling terminal
//	session      its own (setsid), as runc's processes have; for the
//	             init, stdio that are the host's /dev/null become the
//	             container's (what criu needs to checkpoint it)
//	attributes   oom_score_adj, personality, scheduler, I/O priority,
//	             memory policy, CPU affinity; rlimits' hard limits raised
//	             while allowed
//	cwd          entered, and checked to be inside the container
//	HOME         from the container's /etc/passwd, unless the env has one
//	fds          every fd above stdio and the preserved ones closes on exec
//	credentials  bounding set, groups, gid, uid (keeping capabilities
//	             across), umask, the other four capability sets
//	no_new_privs
//	LSM labels   the AppArmor profile and SELinux label for the execve
//	seccomp      the filter of linux.seccomp: without no_new_privs before
//	             the credentials change (it needs CAP_SYS_ADMIN), with it
//	             last; a SCMP_ACT_NOTIFY listener fd goes to kan, for the
//	             agent at linux.seccomp.listenerPath
//	rlimits      set last, then execve, searching the container's PATH
//	             as execvp does
//
// Any failure goes to kan as an error message on the sync socket (after
// an init reported ready: to exec.done, for kan start), and the process
// exits. For kan exec the sync socket closes on exec: end of file tells it
// the program runs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "laststage.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

// capset(2)'s structures (linux/capability.h), which not every C
// library's headers carry (kan builds against musl).
#define KAN_CAPABILITY_VERSION_3 0x20080522
struct kan_cap_header {
	uint32_t version;
	int pid;
};
struct kan_cap_data {
	uint32_t effective, permitted, inheritable;
};

// The config's names of the resources, by number (asm-generic/resource.h).
static const char *rlimit_names[KAN_PLAN_RLIMITS] = {
	"RLIMIT_CPU",     "RLIMIT_FSIZE",  "RLIMIT_DATA",       "RLIMIT_STACK",
	"RLIMIT_CORE",    "RLIMIT_RSS",    "RLIMIT_NPROC",      "RLIMIT_NOFILE",
	"RLIMIT_MEMLOCK", "RLIMIT_AS",     "RLIMIT_LOCKS",      "RLIMIT_SIGPENDING",
	"RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO",     "RLIMIT_RTTIME",
};

void kan_read_full(int fd, void *buf, size_t len, const char *what)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? EPIPE : errno;
			kan_fail("read %s from kan", what);
		}
		p += n;
		len -= n;
	}
}

// next_string returns the string at *p and moves *p past it; a plan
// whose strings run past its end is refused.
static char *next_string(char **p, char *end)
{
	char *s = *p, *nul = memchr(s, '\0', end - s);
	if (!nul) {
		errno = EPROTO;
		kan_fail("malformed plan from kan");
	}
	*p = nul + 1;
	return s;
}

// check_char makes sure fd is a character device with major in
// [lo, hi] (and minor min, if min >= 0): the container's /dev could hold
// anything under the names of the pty devices.
static void check_char(int fd, const char *name, unsigned lo, unsigned hi, int min)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		kan_fail("process.terminal: stat %s", name);
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) < lo || major(st.st_rdev) > hi ||
	    (min >= 0 && minor(st.st_rdev) != (unsigned)min)) {
		errno = 0;
		kan_fail("process.terminal: %s is not a pty device (mode %o, %u:%u): refusing to use it", name,
			 st.st_mode, major(st.st_rdev), minor(st.st_rdev));
	}
}

int kan_send_fd_on(int sock, const char *name, int fd)
{
	char control[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

// open_tree(2) and move_mount(2)'s flags (linux/mount.h).
#define KAN_OPEN_TREE_CLONE 1
#define KAN_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define KAN_MOVE_MOUNT_T_EMPTY_PATH 0x40

// bind_console makes /dev/console the container's terminal: the slave is bind-mounted onto the
// very file opened (never following a link) as /dev/console, both taken
// by fd with the mount API. Not through /proc/self/fd: the container's
// /proc may be no procfs at all, and its "fd/N" links to files of the
// image's choice.
static void bind_console(int slave)
{
	int f = open("/dev/console", O_CREAT | O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (f < 0)
		kan_fail("process.terminal: create /dev/console");
	struct stat st;
	if (fstat(f, &st) < 0)
		kan_fail("process.terminal: stat /dev/console");
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		errno = 0;
		kan_fail("process.terminal: /dev/console is not a file or device (mode %o)", st.st_mode);
	}
	int tree = (int)syscall(SYS_open_tree, slave, "", KAN_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH);
	if (tree >= 0) {
		if (syscall(SYS_move_mount, tree, "", f, "", KAN_MOVE_MOUNT_F_EMPTY_PATH | KAN_MOVE_MOUNT_T_EMPTY_PATH) < 0)
			kan_fail("process.terminal: bind the pty to /dev/console");
		close(tree);
		close(f);
		return;
	}
	if (errno != ENOSYS)
		kan_fail("process.terminal: clone the pty's mount");
	// No mount API (before 5.2, or a seccomp filter refuses it): the
	// fds' paths, in a /proc checked to be a procfs.
	struct statfs sfs;
	if (statfs("/proc/self/fd", &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		errno = 0;
		kan_fail("process.terminal: /proc/self/fd is not on procfs: refusing to bind the pty to /dev/console "
			 "through it");
	}
	char src[64], dst[64];
	snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d", f);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		kan_fail("process.terminal: bind the pty to /dev/console");
	close(f);
}

// kan_setup_terminal gives the process its terminal: a pty of the
// container's devpts, its master sent over the console socket, its slave
// made stdio and the controlling terminal, and for the init /dev/console.
void kan_setup_terminal(const struct kan_plan *plan, int console)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		kan_fail("process.terminal: open /dev/ptmx");
	check_char(master, "/dev/ptmx", 5, 5, 2);
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		kan_fail("process.terminal: unlock pty");
	unsigned int n;
	if (ioctl(master, TIOCGPTN, &n) < 0)
		kan_fail("process.terminal: get pty number");
	char slave_path[64];
	snprintf(slave_path, sizeof(slave_path), "/dev/pts/%u", n);
	// The slave straight from the master, never by its path: the
	// container's /dev/pts/N could be a link to anything.
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		kan_fail("process.terminal: open the pty slave");
	check_char(slave, slave_path, 136, 143, -1); // Unix98 pty slaves
	// The terminal is the user's, as runc makes it: its uid; the group
	// stays the devpts mount's (gid=5, tty, in the usual config). An id
	// the user namespace does not map, or a read-only devpts, leaves it
	// as it is, as with runc.
	if (fchown(slave, plan->uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
		kan_fail("process.terminal: chown %s to uid %u", slave_path, plan->uid);
	if (plan->console_size) {
		struct winsize ws = {.ws_row = plan->rows, .ws_col = plan->cols};
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			kan_fail("process.terminal: process.consoleSize");
	}
	if (console)
		bind_console(slave);
	if (kan_send_fd_on(plan->console_fd, slave_path, master) < 0)
		kan_fail("process.terminal: send pty master over the console socket");
	close(master); // the console socket's listener owns it now
	if (setsid() < 0)
		kan_fail("process.terminal: setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		kan_fail("process.terminal: make %s the controlling terminal", slave_path);
	for (int fd = 0; fd < 3; fd++) {
		// The slave may have got one of these numbers itself (a caller
		// with stdio closed): it is then already in place.
		if (fd == slave) {
			if (fcntl(fd, F_SETFD, 0) < 0)
				kan_fail("process.terminal: dup pty to fd %d", fd);
			continue;
		}
		if (dup3(slave, fd, 0) < 0)
			kan_fail("process.terminal: dup pty to fd %d", fd);
	}
	if (slave > 2)
		close(slave);
	close(plan->console_fd);
}

static void set_rlimit(const struct kan_rlimit *rl)
{
	// prlimit64 itself: a C library's setrlimit may signal every thread
	// of the process (musl's fallback), and the Go init has many.
	struct rlimit lim = {.rlim_cur = rl->soft, .rlim_max = rl->hard};
	if (syscall(SYS_prlimit64, 0, rl->resource, &lim, NULL) < 0)
		kan_fail("process.rlimits %s (soft %llu, hard %llu)", rlimit_names[rl->resource],
			 (unsigned long long)rl->soft, (unsigned long long)rl->hard);
}

// raise_hard_rlimits raises, while the process still may, each hard limit
// above the current one (soft ones untouched): lowering is always allowed,
// so set_rlimit can then set them all after the switch to the user.
static void raise_hard_rlimits(const struct kan_plan *plan)
{
	for (uint32_t i = 0; i < plan->nrlimits; i++) {
		const struct kan_rlimit *rl = &plan->rlimits[i];
		struct rlimit cur;
		if (getrlimit(rl->resource, &cur) < 0)
			kan_fail("process.rlimits %s", rlimit_names[rl->resource]);
		if (rl->hard > cur.rlim_max) {
			struct kan_rlimit raise = *rl;
			raise.soft = cur.rlim_cur < rl->hard ? cur.rlim_cur : rl->hard;
			set_rlimit(&raise);
		}
	}
}

// set_credentials drops the bounding set, switches to the user (keeping
// the permitted capabilities across the uid change), then sets exactly
// the configured capabilities. Each call changes this thread, the only
// one there is.
static void set_credentials(const struct kan_plan *plan, const gid_t *groups, const char *groups_desc)
{
	for (uint32_t c = 0; c <= plan->cap_last && c < 64; c++) {
		if (plan->cap_bounding & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			kan_fail("process.capabilities.bounding: drop capability %u", c);
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		kan_fail("set keep-caps");
	// A user namespace whose setgroups is denied accepts only "no
	// groups", and only if none were asked for.
	if (syscall(SYS_setgroups, (size_t)plan->ngroups, groups) < 0 && !(errno == EPERM && plan->ngroups == 0))
		kan_fail("%s", groups_desc);
	if (syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0)
		kan_fail("process.user.gid %u", plan->gid);
	if (syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0)
		kan_fail("process.user.uid %u", plan->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		kan_fail("clear keep-caps");
	if (plan->umask >= 0)
		umask(plan->umask);

	struct kan_cap_header hdr = {.version = KAN_CAPABILITY_VERSION_3, .pid = 0};
	struct kan_cap_data data[2];
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(plan->cap_effective >> (32 * i));
		data[i].permitted = (uint32_t)(plan->cap_permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(plan->cap_inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		kan_fail("process.capabilities: set the effective, permitted and inheritable sets");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		kan_fail("process.capabilities.ambient: reset");
	for (uint32_t c = 0; c <= plan->cap_last && c < 64; c++)
		if ((plan->cap_ambient & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			kan_fail("process.capabilities.ambient: raise capability %u", c);
}

// cloexec_from marks every fd from first up close-on-exec.
static void cloexec_from(int first)
{
	if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	// Before Linux 5.11: one by one, up to the fd limit.
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		kan_fail("list fds");
	for (rlim_t fd = first; fd < nofile.rlim_cur; fd++)
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
			kan_fail("mark fd %d close-on-exec", (int)fd);
}

// KAN_CHECK_GROUPS: the most supplementary groups check_credentials
// compares (more is rare; they are then not compared).
#define KAN_CHECK_GROUPS 256

// check_credentials makes sure the credentials set_credentials asked for
// are in force. A filter installed before them (without no_new_privs)
// could have answered setresuid or capset with a fake success (an
// SCMP_ACT_ERRNO with errnoRet 0), leaving the process root.
static void check_credentials(const struct kan_plan *plan, const gid_t *groups, const char *groups_desc)
{
	// The groups: the same set, in any order the kernel keeps.
	gid_t have[KAN_CHECK_GROUPS];
	int n = plan->ngroups <= KAN_CHECK_GROUPS ? getgroups(KAN_CHECK_GROUPS, have) : -1;
	int same = n == (int)plan->ngroups;
	for (int i = 0; same && i < n; i++) {
		int found = 0;
		for (uint32_t j = 0; j < plan->ngroups && !found; j++)
			found = have[i] == groups[j];
		same = found;
	}
	if (!same && plan->ngroups <= KAN_CHECK_GROUPS) {
		errno = 0;
		kan_fail("%s: not in force after setgroups (refused by linux.seccomp?)", groups_desc);
	}
	uid_t r, e, s;
	gid_t gr, ge, gs;
	if (getresuid(&r, &e, &s) < 0 || r != plan->uid || e != plan->uid || s != plan->uid) {
		errno = 0;
		kan_fail("process.user.uid %u: not in force after setresuid (refused by linux.seccomp?)", plan->uid);
	}
	if (getresgid(&gr, &ge, &gs) < 0 || gr != plan->gid || ge != plan->gid || gs != plan->gid) {
		errno = 0;
		kan_fail("process.user.gid %u: not in force after setresgid (refused by linux.seccomp?)", plan->gid);
	}
	struct kan_cap_header hdr = {.version = KAN_CAPABILITY_VERSION_3, .pid = 0};
	struct kan_cap_data data[2];
	if (syscall(SYS_capget, &hdr, data) < 0 ||
	    ((uint64_t)data[1].effective << 32 | data[0].effective) != plan->cap_effective ||
	    ((uint64_t)data[1].permitted << 32 | data[0].permitted) != plan->cap_permitted ||
	    ((uint64_t)data[1].inheritable << 32 | data[0].inheritable) != plan->cap_inheritable) {
		errno = 0;
		kan_fail("process.capabilities: not in force after capset (refused by linux.seccomp?)");
	}
}

// Constants of the mount API and openat2 (linux/mount.h, linux/openat2.h),
// which older C libraries lack.
#define KAN_FSOPEN_CLOEXEC 0x1
#define KAN_FSCONFIG_SET_STRING 1
#define KAN_FSCONFIG_CMD_CREATE 6
#define KAN_FSMOUNT_CLOEXEC 0x1
#define KAN_MOUNT_ATTR_NOSUID 0x2
#define KAN_MOUNT_ATTR_NODEV 0x4
#define KAN_MOUNT_ATTR_NOEXEC 0x8
#define KAN_RESOLVE_NO_XDEV 0x01
#define KAN_RESOLVE_NO_MAGICLINKS 0x02
#define KAN_RESOLVE_BENEATH 0x08

struct kan_open_how {
	uint64_t flags, mode, resolve;
};

// open_procfs returns a procfs of the container's pid namespace that no
// one can have mounted anything on: a private instance, never attached
// (the container's /proc is the container's to shape, and a bind mount
// over /proc/self/attr would redirect the write). Where the kernel
// refuses a new instance, the container's /proc, checked to be the root
// of a procfs; the files are then opened without crossing a mount.
static int open_procfs(void)
{
	int fs = (int)syscall(SYS_fsopen, "proc", KAN_FSOPEN_CLOEXEC);
	if (fs >= 0) {
		int mnt = -1;
		// Only the pids (5.8+): a full procfs kan makes must not be
		// there for anything to reach while it is open.
		if (syscall(SYS_fsconfig, fs, KAN_FSCONFIG_SET_STRING, "subset", "pid", 0) == 0 &&
		    syscall(SYS_fsconfig, fs, KAN_FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
			mnt = (int)syscall(SYS_fsmount, fs, KAN_FSMOUNT_CLOEXEC,
					   KAN_MOUNT_ATTR_NOSUID | KAN_MOUNT_ATTR_NODEV | KAN_MOUNT_ATTR_NOEXEC);
		close(fs);
		if (mnt >= 0)
			return mnt;
	}
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (proc < 0)
		return -1;
	struct statfs sfs;
	struct stat st;
	if (fstatfs(proc, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC || fstat(proc, &st) < 0 || st.st_ino != 1) {
		close(proc);
		errno = EXDEV;
		return -1;
	}
	return proc;
}

// write_attr writes value to /proc/thread-self/<file> of procfs proc.
static int write_attr(int proc, const char *file, const char *value)
{
	char path[128];
	snprintf(path, sizeof(path), "thread-self/%s", file);
	struct kan_open_how how = {
		.flags = O_WRONLY | O_CLOEXEC | O_NOCTTY,
		.resolve = KAN_RESOLVE_BENEATH | KAN_RESOLVE_NO_XDEV | KAN_RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, proc, path, &how, sizeof(how));
	if (fd < 0)
		return -1;
	struct statfs sfs;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)len ? 0 : -1;
}

// set_exec_labels makes the execve switch to the AppArmor profile and
// SELinux label of the plan, through proc (open_procfs, opened while the process could still make a
// procfs of its own).
static void set_exec_labels(int proc, const char *apparmor, const char *selinux)
{
	if (*apparmor) {
		size_t len = strlen(apparmor) + sizeof("exec ");
		char *value = malloc(len);
		if (!value)
			kan_fail("process.apparmorProfile %s", apparmor);
		snprintf(value, len, "exec %s", apparmor);
		// The LSM's own file first (5.8+), then the shared one.
		int err = write_attr(proc, "attr/apparmor/exec", value);
		if (err < 0 && errno == ENOENT)
			err = write_attr(proc, "attr/exec", value);
		// attr/exec always exists: ENOENT is AppArmor's answer for a
		// profile it has not loaded.
		if (err < 0 && errno == ENOENT)
			kan_fail("process.apparmorProfile \"%s\": no such AppArmor profile is loaded", apparmor);
		if (err < 0)
			kan_fail("process.apparmorProfile %s", apparmor);
		free(value);
	}
	if (*selinux && write_attr(proc, "attr/exec", selinux) < 0)
		kan_fail("process.selinuxLabel %s", selinux);
}

// env_value returns the value of key in envp, or NULL.
static const char *env_value(char **envp, const char *key)
{
	size_t n = strlen(key);
	const char *found = NULL;
	for (char **e = envp; *e; e++)
		if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
			found = *e + n + 1; // the last one wins, as for Go's lookups
	return found;
}

// home_of finds the home directory of uid in the container's /etc/passwd
// (the first entry with that uid), as moby/sys/user does for the init; "/"
// without one. It runs inside the container, with the container's device
// rules and user namespace, as the init's lookup does. A file that is not
// a regular file counts as empty: a fifo must not hang the process.
static char *home_of(uint32_t uid)
{
	// No magic links: /etc/passwd must not lead to an fd of this
	// process (its procfs) through /proc/self/fd.
	struct kan_open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = KAN_RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &how, sizeof(how));
	if (fd < 0)
		return "/";
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return "/";
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return "/";
	}
	char *line = NULL, *home = "/";
	size_t cap = 0, total = 0;
	ssize_t n;
	// At most 64 MiB: the container writes this file.
	while (total < (64u << 20) && (n = getline(&line, &cap, f)) > 0) {
		total += (size_t)n;
		// name:password:uid:gid:gecos:home:shell
		line[strcspn(line, "\n")] = '\0';
		char *field[7] = {0};
		char *p = line;
		int nfields = 0;
		while (nfields < 7) {
			field[nfields++] = p;
			p = strchr(p, ':');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (nfields < 3 || !*field[2])
			continue;
		char *end;
		errno = 0;
		unsigned long id = strtoul(field[2], &end, 10);
		if (errno || *end || id != uid)
			continue;
		home = strdup(nfields >= 6 ? field[5] : "");
		if (!home)
			home = "/";
		break;
	}
	free(line);
	fclose(f);
	return home;
}

// search_path is the PATH of envp, or the default one the Go init and
// execvp use when there is none.
static const char *search_path(char **envp)
{
	const char *path = env_value(envp, "PATH");
	return path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

// not_in_path fails for a program found in no directory of path, in the
// Go init's words, which hold runc's phrase: Docker and Podman map
// "executable file not found" to exit status 127.
__attribute__((noreturn)) static void not_in_path(const char *name, const char *path)
{
	errno = 0;
	kan_fail("process.args[0]: \"%s\": executable file not found in $PATH (%s)", name, path);
}

// exec_program executes argv[0] as execvp would: a name with a slash as
// it is, any other in each directory of the container's PATH in turn,
// going on past those where it is missing or not executable.
void kan_exec_program(char **argv, char **envp)
{
	const char *name = argv[0];
	if (strchr(name, '/')) {
		execve(name, argv, envp);
		kan_fail("process.args[0]: exec %s", name);
	}
	const char *path = search_path(envp);
	if (!*path)
		not_in_path(name, path); // an empty PATH names no directory
	size_t len = strlen(path) + strlen(name) + 3;
	char *candidate = malloc(len);
	if (!candidate)
		kan_fail("exec %s", name);
	for (const char *dir = path;; dir++) {
		const char *colon = strchrnul(dir, ':');
		int dlen = (int)(colon - dir);
		if (dlen == 0)
			snprintf(candidate, len, "./%s", name);
		else
			snprintf(candidate, len, "%.*s/%s", dlen, dir, name);
		execve(candidate, argv, envp);
		// The errors for which execvp goes on to the next directory.
		if (errno != ENOENT && errno != ENOTDIR && errno != EACCES && errno != ESTALE && errno != ENODEV &&
		    errno != ETIMEDOUT)
			kan_fail("process.args[0]: exec %s", candidate);
		if (!*colon)
			break;
		dir = colon;
	}
	not_in_path(name, path);
}


// set_attributes sets what the program inherits through execve, while the
// process still has every capability (a real-time policy needs
// CAP_SYS_NICE, which the program may not get).
static void set_attributes(const struct kan_plan *plan, int proc, char **desc)
{
	if (plan->set_oom_score_adj) {
		char value[16];
		snprintf(value, sizeof(value), "%d", plan->oom_score_adj);
		if (write_attr(proc, "oom_score_adj", value) < 0)
			kan_fail("process.oomScoreAdj %d", plan->oom_score_adj);
	}
	if (plan->set_personality && syscall(SYS_personality, (unsigned long)plan->personality) < 0)
		kan_fail("linux.personality");
	if (plan->set_scheduler) {
		// struct sched_attr, in its second version (56 bytes): the
		// utilisation clamp flags need the size that holds them.
		struct {
			uint32_t size, policy;
			uint64_t flags;
			int32_t nice;
			uint32_t priority;
			uint64_t runtime, deadline, period;
			uint32_t util_min, util_max;
		} attr = {
			.size = sizeof(attr), .policy = plan->sched_policy, .flags = plan->sched_flags,
			.nice = plan->sched_nice, .priority = plan->sched_priority, .runtime = plan->sched_runtime,
			.deadline = plan->sched_deadline, .period = plan->sched_period,
		};
		if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
			kan_fail("%s", desc[KAN_DESC_SCHEDULER]);
	}
	if (plan->set_ioprio && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, plan->ioprio) < 0)
		kan_fail("%s", desc[KAN_DESC_IOPRIO]);
	if (plan->set_mempolicy &&
	    syscall(SYS_set_mempolicy, plan->mempolicy_mode, plan->mempolicy_maxnode ? plan->mempolicy_nodes : NULL,
		    (unsigned long)plan->mempolicy_maxnode) < 0)
		kan_fail("%s", desc[KAN_DESC_MEMPOLICY]);
	if (plan->set_affinity && sched_setaffinity(0, sizeof(plan->affinity), (const cpu_set_t *)plan->affinity) < 0)
		kan_fail("%s", desc[KAN_DESC_AFFINITY]);
}

// die_of is what the Go runtime does, uncaught, for a signal that ends a
// Go program: take the default action, and exit 2 if that did not end
// the process (as pid 1 of its namespace ignores it).
static void die_of(int sig)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), sig);
	_exit(2);
}

static void ignore(int sig) { (void)sig; }

// reset_libc_signals gives the signals the C library keeps for itself (32
// to 34), which refuse sigaction, the default action directly, so that one
// kan's caller ignored does not reach the program ignored (a static glibc
// used to install handlers there; musl does not; the Go runtime leaves
// them as it finds them). Nothing kan runs uses them.
static void reset_libc_signals(void)
{
	for (int sig = 32; sig < SIGRTMIN; sig++) {
		struct {
			void *handler;
			unsigned long flags;
			void *restorer;
			uint64_t mask;
		} dfl = {.handler = SIG_DFL};
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	}
}

void kan_catch_signals(void)
{
	// The signals that end a Go program (SIGHUP, SIGINT and SIGTERM;
	// those it dies of with a trace; the faults sent by kill).
	static const int fatal[] = {SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS,
				    SIGFPE, SIGSEGV, SIGSTKFLT, SIGTERM, SIGSYS};
	reset_libc_signals();
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || (sig >= 32 && sig < SIGRTMIN))
			continue; // uncatchable, or the C library's own
		if (sig == SIGCONT || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			continue; // Go leaves job control as it finds it
		// An ignored SIGHUP or SIGINT stays ignored (nohup), as the
		// Go runtime leaves them. (Only these are asked: a system call
		// costs here.)
		struct sigaction old;
		if ((sig == SIGHUP || sig == SIGINT) && sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		// SA_RESTART, as Go sets: a caught signal must not fail a
		// system call half-way (a sendmsg, a mount).
		struct sigaction sa = {.sa_handler = ignore, .sa_flags = SA_RESTART};
		for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
			if (fatal[i] == sig)
				sa.sa_handler = die_of;
		sigemptyset(&sa.sa_mask);
		sigaction(sig, &sa, NULL);
	}
}

static void malformed(void)
{
	errno = EPROTO;
	kan_fail("malformed plan from kan");
}

// check_plan refuses a plan whose fixed part cannot be right.
static void check_plan(const struct kan_plan *plan)
{
	if (plan->magic != KAN_PLAN_MAGIC || plan->size > KAN_PLAN_MAX_SIZE || plan->nrlimits > KAN_PLAN_RLIMITS ||
	    (uint64_t)plan->ngroups * sizeof(gid_t) > plan->size || plan->first_cloexec_fd < 3 || plan->nargs == 0 ||
	    (uint64_t)plan->nargs + plan->nenv > plan->size ||
	    plan->mempolicy_maxnode > KAN_PLAN_NODE_WORDS * 64 + 1 ||
	    // -1 means "unchanged" to setresuid and would leave the process
	    // root: kan refuses such ids, and so does this.
	    plan->uid == (uint32_t)-1 || plan->gid == (uint32_t)-1 || plan->seccomp_len > KAN_PLAN_MAX_SECCOMP ||
	    (uint64_t)plan->ngroups * sizeof(gid_t) + (uint64_t)plan->seccomp_len * 8 > plan->size ||
	    (plan->init && (plan->fifo_fd < 3 || plan->done_fd < 3)))
		malformed();
	for (uint32_t i = 0; i < plan->nrlimits; i++)
		if (plan->rlimits[i].resource >= KAN_PLAN_RLIMITS)
			malformed();
}

// unpack fills proc from data, the plan's variable part (see laststage.h),
// which it points into: plan->size bytes and a NUL. The environment gets
// room for a HOME.
static void unpack(const struct kan_plan *plan, char *data, struct kan_process *proc)
{
	proc->groups = (const uint32_t *)data;
	char *p = data + plan->ngroups * sizeof(gid_t), *end = data + plan->size;
	proc->seccomp = NULL;
	if (plan->seccomp_len) {
		// Copied out: the kernel wants the instructions aligned.
		proc->seccomp = malloc((size_t)plan->seccomp_len * 8);
		if (!proc->seccomp)
			kan_fail("read the plan from kan");
		memcpy(proc->seccomp, p, (size_t)plan->seccomp_len * 8);
		p += (size_t)plan->seccomp_len * 8;
	}
	proc->cwd = next_string(&p, end);
	proc->argv = calloc((size_t)plan->nargs + 1, sizeof(char *));
	proc->envp = calloc((size_t)plan->nenv + 2, sizeof(char *));
	if (!proc->argv || !proc->envp)
		kan_fail("read the plan from kan");
	for (uint32_t i = 0; i < plan->nargs; i++)
		proc->argv[i] = next_string(&p, end);
	for (uint32_t i = 0; i < plan->nenv; i++)
		proc->envp[i] = next_string(&p, end);
	proc->apparmor = next_string(&p, end);
	proc->selinux = next_string(&p, end);
	for (int i = 0; i < KAN_NDESC; i++)
		proc->desc[i] = next_string(&p, end);
	proc->keyring = next_string(&p, end);
	// Bytes past the last string mean kan and this reader disagree on
	// the layout: nothing of such a plan can be trusted.
	if (p != end)
		malformed();
}

void kan_read_plan(int sync_fd, struct kan_plan *plan, struct kan_process *proc)
{
	kan_read_full(sync_fd, plan, sizeof(*plan), "the plan");
	check_plan(plan);
	char *data = malloc(plan->size + 1);
	if (!data)
		kan_fail("read the plan from kan");
	kan_read_full(sync_fd, data, plan->size, "the plan");
	data[plan->size] = '\0';
	unpack(plan, data, proc);
}

void kan_load_plan(const void *buf, size_t len, struct kan_plan *plan, struct kan_process *proc)
{
	kan_fail_prefix = "";
	if (len < sizeof(*plan))
		malformed();
	memcpy(plan, buf, sizeof(*plan));
	check_plan(plan);
	if (len - sizeof(*plan) != plan->size)
		malformed();
	char *data = malloc(plan->size + 1);
	if (!data)
		kan_fail("read the plan from kan");
	memcpy(data, (const char *)buf + sizeof(*plan), plan->size);
	data[plan->size] = '\0';
	unpack(plan, data, proc);
}

void kan_join_keyring(const struct kan_plan *plan, const struct kan_process *proc)
{
	if (plan->new_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, proc->keyring) < 0 &&
	    errno != ENOSYS)
		kan_fail("join session keyring");
}

// struct sock_fprog and seccomp(2)'s operation (linux/filter.h,
// linux/seccomp.h).
struct kan_sock_fprog {
	unsigned short len;
	void *filter;
};
#define KAN_SECCOMP_SET_MODE_FILTER 1

#define KAN_SECCOMP_FILTER_FLAG_NEW_LISTENER (1U << 3)

void kan_install_seccomp(const struct kan_plan *plan, const struct kan_process *proc, int late)
{
	if (!plan->seccomp_len || (plan->no_new_privs != 0) != (late != 0))
		return;
	struct kan_sock_fprog prog = {.len = (unsigned short)plan->seccomp_len, .filter = proc->seccomp};
	int fd = (int)syscall(SYS_seccomp, KAN_SECCOMP_SET_MODE_FILTER, plan->seccomp_flags, &prog);
	if (fd < 0)
		kan_fail("linux.seccomp: install the filter");
	if (!(plan->seccomp_flags & KAN_SECCOMP_FILTER_FLAG_NEW_LISTENER))
		return;
	// SCMP_ACT_NOTIFY: kan hands the listener fd to the agent at
	// linux.seccomp.listenerPath, and the process goes on once it has,
	// so that no notification can come before someone listens.
	kan_send("{\"type\":\"seccomp\"}\n");
	kan_wait_for("{\"type\":\"seccomp-send\"}");
	kan_send_fd(fd);
	kan_wait_for("{\"type\":\"seccomp-done\"}");
	close(fd);
}

void kan_run_program(const struct kan_plan *plan, struct kan_process *proc, const char *program)
{
	reset_libc_signals();
	kan_set_rlimits(plan);
	kan_fail_status = 127;
	execve(program, proc->argv, proc->envp);
	kan_fail("exec %s", program);
}

// is_executable says whether path is a file execve could run (what
// checkExecutable says for the Go init), with the init's error if not.
static int is_executable(const char *path, int report)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (report)
			kan_fail("process.args[0]: executable %s: stat %s", path, path);
		return 0;
	}
	if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
		// The errno execve would give: engines map "permission
		// denied" (and "is a directory") to exit status 126.
		if (report) {
			errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
			kan_fail("process.args[0]: exec %s", path);
		}
		return 0;
	}
	return 1;
}

// find_program looks argv[0] up as the Go init's lookPath does: a name
// with a slash as it is, any other in each directory of the PATH in turn
// (an empty entry is the working directory); it fails as create reports.
static char *find_program(const char *name, char **envp)
{
	if (strchr(name, '/')) {
		is_executable(name, 1);
		return strdup(name);
	}
	const char *path = search_path(envp);
	size_t len = strlen(path) + strlen(name) + 3;
	char *candidate = malloc(len);
	if (!candidate)
		kan_fail("process.args[0]");
	// An empty PATH names no directory.
	for (const char *dir = path; *path;) {
		const char *colon = strchrnul(dir, ':');
		int dlen = (int)(colon - dir);
		// As filepath.Join, which the Go init used: no "./", no "//".
		while (dlen > 1 && dir[dlen - 1] == '/')
			dlen--;
		if (dlen == 0 || (dlen == 1 && dir[0] == '.'))
			snprintf(candidate, len, "%s", name);
		else if (dlen == 1 && dir[0] == '/')
			snprintf(candidate, len, "/%s", name);
		else
			snprintf(candidate, len, "%.*s/%s", dlen, dir, name);
		if (is_executable(candidate, 0))
			return candidate;
		if (!*colon)
			break;
		dir = colon + 1;
	}
	not_in_path(name, path);
}

// reopen_dev_null replaces the init's stdio that are the host's
// /dev/null (a detached container's, often) with the container's, as
// runc does: a file of a mount the container cannot see is one criu
// cannot checkpoint. Without a /dev/null of the container's, they stay.
static void reopen_dev_null(void)
{
	struct stat st;
	int null = -1;
	for (int fd = 0; fd < 3; fd++) {
		if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
			continue;
		if (null < 0) {
			null = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (null < 0)
				return;
			struct stat ours;
			if (fstat(null, &ours) < 0 || !S_ISCHR(ours.st_mode) || ours.st_rdev != makedev(1, 3)) {
				close(null);
				return;
			}
		}
		if (dup3(null, fd, 0) < 0)
			kan_fail("reopen stdio fd %d on the container's /dev/null", fd);
	}
	if (null >= 0)
		close(null);
}

void kan_become(const struct kan_plan *plan, struct kan_process *proc, char **program)
{
	// A session of its own, as runc gives every container process (a
	// terminal's made it already): not the caller's session, which lies
	// outside the container — criu refuses to checkpoint a process whose
	// session leader it cannot see.
	if (getsid(0) != getpid() && setsid() < 0)
		kan_fail("setsid");
	if (plan->init)
		reopen_dev_null();
	// procfs, for oom_score_adj and the LSM labels, opened while the
	// process may still make an instance of its own.
	int procfs = -1;
	if (plan->set_oom_score_adj || *proc->apparmor || *proc->selinux) {
		procfs = open_procfs();
		if (procfs < 0)
			kan_fail("open procfs (for process.oomScoreAdj and the LSM labels)");
	}
	set_attributes(plan, procfs, proc->desc);
	raise_hard_rlimits(plan);

	if (chdir(proc->cwd) < 0)
		kan_fail("process.cwd %s", proc->cwd);
	// getcwd fails for a directory outside our root, which is how a
	// leaked host fd used as cwd shows itself (the CVE-2024-21626 class).
	char wd[PATH_MAX];
	if (!getcwd(wd, sizeof(wd)) || wd[0] != '/') {
		errno = 0;
		kan_fail("process.cwd %s: not reachable inside the container", proc->cwd);
	}
	if (!env_value(proc->envp, "HOME")) {
		const char *home = home_of(plan->uid);
		size_t len = strlen(home) + sizeof("HOME=");
		char *entry = malloc(len);
		if (!entry)
			kan_fail("process.env HOME");
		snprintf(entry, len, "HOME=%s", home);
		proc->envp[plan->nenv] = entry;
	}
	if (program)
		*program = find_program(proc->argv[0], proc->envp);

	// No fd of kan's may reach the program: the sync socket among them,
	// whose closing tells kan that the program runs (exec) or that the
	// init is ready (create). Before any filter, which could fake it.
	cloexec_from(plan->first_cloexec_fd);
	// Without no_new_privs only a process with CAP_SYS_ADMIN may install
	// a filter: now, before the credentials change, which are then
	// checked to be in force.
	kan_install_seccomp(plan, proc, 0);
	set_credentials(plan, (const gid_t *)proc->groups, proc->desc[KAN_DESC_GROUPS]);
	if (plan->seccomp_len && !plan->no_new_privs)
		check_credentials(plan, (const gid_t *)proc->groups, proc->desc[KAN_DESC_GROUPS]);
	if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		kan_fail("process.noNewPrivileges");
	set_exec_labels(procfs, proc->apparmor, proc->selinux);
	if (procfs >= 0)
		close(procfs);
	// With no_new_privs, as late as the process is still kan's to
	// finish: what follows is ready, the wait for start, the rlimits
	// and execve (and for the Go init, its startContainer hooks), as
	// with runc.
	kan_install_seccomp(plan, proc, 1);
}

void kan_set_rlimits(const struct kan_plan *plan)
{
	for (uint32_t i = 0; i < plan->nrlimits; i++)
		set_rlimit(&plan->rlimits[i]);
}

void kan_exec_stage(int sync_fd)
{
	kan_fail_prefix = "";
	kan_catch_signals();
	struct kan_plan plan;
	struct kan_process proc;
	kan_read_plan(sync_fd, &plan, &proc);
	if (plan.init)
		malformed();
	if (fchdir(plan.root_fd) < 0 || chroot(".") < 0)
		kan_fail("enter the container's root");
	close(plan.root_fd);
	if (plan.console_fd >= 0)
		kan_setup_terminal(&plan, 0);
	kan_become(&plan, &proc, NULL);
	kan_set_rlimits(&plan);
	kan_exec_program(proc.argv, proc.envp);
}
