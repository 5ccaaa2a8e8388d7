// The plan of the last stage: what kan computed for the process to become,
// as it goes over the sync socket, for a process `kan exec` adds
// (laststage.c) and for a container's init that runs no Go (initstage.c).
#ifndef KAN_LASTSTAGE_H
#define KAN_LASTSTAGE_H

#include <stddef.h>
#include <stdint.h>

#define KAN_PLAN_RLIMITS 16   // RLIMIT_NLIMITS
#define KAN_PLAN_NODE_WORDS 16 // 1024 NUMA nodes
#define KAN_PLAN_CPU_WORDS 16  // 1024 CPUs, as Go's unix.CPUSet

struct kan_rlimit {
	uint32_t resource;
	uint32_t pad;
	uint64_t soft, hard;
};

// struct kan_plan is followed by `size` bytes: ngroups uint32 group ids,
// seccomp_len classic BPF instructions (struct sock_filter, 8 bytes each),
// then NUL-terminated strings: the working directory, the nargs
// arguments, the nenv environment entries, the AppArmor profile and the
// SELinux label (both possibly empty), then how errors name the
// scheduler, I/O priority, memory policy, CPU affinity and groups (the
// config's field with its value), then the name of the init's session
// keyring.
struct kan_plan {
	uint32_t magic;
	uint32_t size;
	int32_t root_fd;    // the container's root: chroot to it (-1: already there)
	int32_t console_fd; // -1: no terminal
	int32_t console_size;
	uint16_t rows, cols;
	int32_t first_cloexec_fd; // every fd from here up closes on exec
	int32_t set_oom_score_adj;
	int32_t oom_score_adj;
	int32_t set_personality;
	uint64_t personality;
	int32_t set_scheduler; // sched_setattr(2)'s fields
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	int32_t set_ioprio;
	int32_t ioprio;
	int32_t set_mempolicy;
	int32_t mempolicy_mode; // with its flags
	uint64_t mempolicy_maxnode;
	uint64_t mempolicy_nodes[KAN_PLAN_NODE_WORDS];
	int32_t set_affinity;
	uint64_t affinity[KAN_PLAN_CPU_WORDS];
	uint32_t nrlimits;
	struct kan_rlimit rlimits[KAN_PLAN_RLIMITS];
	uint32_t uid, gid;
	uint32_t ngroups;
	int32_t umask; // -1: keep
	uint32_t cap_last;
	uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
	int32_t no_new_privs;
	uint32_t seccomp_len;   // instructions of the seccomp filter; 0: none
	uint32_t seccomp_flags; // SECCOMP_FILTER_FLAG_*
	uint32_t nargs, nenv;
	int32_t init;             // 1: the container's init (initstage.c)
	int32_t fifo_fd, done_fd; // the init's exec.fifo and exec.done
	int32_t new_keyring;      // the init joins a session keyring of its own
};

#define KAN_PLAN_MAGIC 0x6b616e32 // "kan2"

// BPF_MAXINSNS: the most instructions a seccomp filter may have.
#define KAN_PLAN_MAX_SECCOMP 4096

// The most a plan may carry after its fixed part: arguments and
// environment together cannot pass execve's limit anyway.
#define KAN_PLAN_MAX_SIZE (16u << 20)

// kan_process is a plan's variable part, unpacked.
struct kan_process {
	const uint32_t *groups;
	void *seccomp; // seccomp_len struct sock_filter, aligned
	char *cwd, **argv, **envp; // envp has room for one more entry
	char *apparmor, *selinux;
	char *desc[5]; // see enum kan_desc
	char *keyring;
};

// How errors name the plan's fields, in their order after the LSM labels.
enum kan_desc { KAN_DESC_SCHEDULER, KAN_DESC_IOPRIO, KAN_DESC_MEMPOLICY, KAN_DESC_AFFINITY, KAN_DESC_GROUPS, KAN_NDESC };

// The requests the init stage serves before it becomes the process, while
// kan builds the rootfs (initstage.c). Each is a struct kan_op and size
// bytes, answered by an "ok" line or an error.
struct kan_op {
	uint32_t magic;
	uint32_t op;
	uint64_t flags; // KAN_OP_MOUNT_PROC: mount(2)'s flags
	uint32_t size;  // KAN_OP_MOUNT_PROC: source and data, NUL-terminated
	uint32_t pad;
};

#define KAN_OP_MAGIC 0x6b616e6f // "kano"
#define KAN_OP_MAX_SIZE (64u << 10)

enum {
	KAN_OP_MOUNT_PROC = 1, // mount a procfs on the fd that comes with it
	KAN_OP_TERMINAL = 2,   // set up the terminal and /dev/console
	KAN_OP_RUN = 3,        // become the process, report ready, wait for start
};

// kan_read_full reads exactly len bytes from fd, or fails naming what.
void kan_read_full(int fd, void *buf, size_t len, const char *what);

// kan_read_plan reads and checks a plan from sync_fd and unpacks it.
void kan_read_plan(int sync_fd, struct kan_plan *plan, struct kan_process *proc);

// kan_load_plan checks and unpacks a plan laid out in buf (len bytes: the
// fixed part and its variable part), for the Go init, which gets it with
// its config.
void kan_load_plan(const void *buf, size_t len, struct kan_plan *plan, struct kan_process *proc);

// kan_join_keyring joins the init's session keyring of its own, if the
// plan names one.
void kan_join_keyring(const struct kan_plan *plan, const struct kan_process *proc);

// kan_run_program ends a process kan_become made: the C library's own
// signals reset, the rlimits set, program executed with the plan's
// arguments and environment. A failure to set an rlimit exits 1, to
// execute the program 127 (kan_fail).
void kan_run_program(const struct kan_plan *plan, struct kan_process *proc, const char *program)
	__attribute__((noreturn));

// kan_setup_terminal gives the process its terminal; with console, the
// pty becomes /dev/console as well (the init's).
void kan_setup_terminal(const struct kan_plan *plan, int console);

// kan_become makes this process the plan's, from its attributes to its
// LSM labels (see laststage.c). With program set, the program is looked
// up in the container's PATH, before the credentials change, and
// returned there (the init's check that create can report).
void kan_become(const struct kan_plan *plan, struct kan_process *proc, char **program);

// kan_install_seccomp installs the plan's seccomp filter at the point
// its no_new_privs allows: with late set (the end of kan_become) when the
// process has no_new_privs, without (before the credentials change, while
// it still has CAP_SYS_ADMIN) when it has not, as runc does. Otherwise it
// does nothing. A listener fd (SCMP_ACT_NOTIFY) goes to kan.
void kan_install_seccomp(const struct kan_plan *plan, const struct kan_process *proc, int late);

// kan_exec_program executes argv[0] as execvp would.
void kan_exec_program(char **argv, char **envp) __attribute__((noreturn));

// kan_set_rlimits sets the plan's rlimits.
void kan_set_rlimits(const struct kan_plan *plan);

// kan_init_stage is the init of a container whose rootfs kan builds from
// outside: it serves kan's requests, becomes the process, waits for start
// and executes the program. It never returns.
void kan_init_stage(int sync_fd) __attribute__((noreturn));

// kan_catch_signals gives every signal the disposition it had in a Go
// process that catches none: those that end a Go program end this one,
// the others are caught and ignored (so that execve resets them to the
// default, whatever kan's caller ignored), an ignored SIGHUP or SIGINT
// stays ignored.
void kan_catch_signals(void);

// kan_send writes one protocol line to kan (nsenter.c).
void kan_send(const char *line);

// kan_wait_for reads one protocol line from kan and fails unless it is
// want (nsenter.c).
void kan_wait_for(const char *want);

// kan_send_fd sends fd to kan with one byte of data (nsenter.c): only when
// kan asked for it, so that kan's buffered reader holds nothing else.
void kan_send_fd(int fd);

// kan_send_fd_on sends fd over the unix socket sock with name as the
// message (SCM_RIGHTS), as console.SendFd does; -1 on failure.
int kan_send_fd_on(int sock, const char *name, int fd);

// kan_done_fd, once set, gets kan_fail's messages instead of the sync
// socket, as plain text, and the process exits with kan_fail_status.
extern int kan_done_fd, kan_fail_status;

// kan_exec_stage reads a plan from sync_fd, becomes its process and
// executes it. It never returns: a failure is reported on sync_fd.
void kan_exec_stage(int sync_fd) __attribute__((noreturn));

// kan_fail (nsenter.c) reports the failure to kan over the sync socket,
// with errno's text unless errno is 0, and exits.
void kan_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

// kan_fail_prefix starts every message kan_fail sends.
extern const char *kan_fail_prefix;

#endif
