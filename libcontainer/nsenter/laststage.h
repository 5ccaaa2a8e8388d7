// The plan of the exec stage: what kan exec computed for the process to
// become, as it goes over the sync socket. See laststage.c.
#ifndef KAN_LASTSTAGE_H
#define KAN_LASTSTAGE_H

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
// then NUL-terminated strings: the working directory, the nargs
// arguments, the nenv environment entries, the AppArmor profile and the
// SELinux label (both possibly empty), then how errors name the
// scheduler, I/O priority, memory policy, CPU affinity and groups (the
// config's field with its value).
struct kan_plan {
	uint32_t magic;
	uint32_t size;
	int32_t root_fd;    // the container's root: chroot to it
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
	uint32_t nargs, nenv;
};

#define KAN_PLAN_MAGIC 0x6b616e31 // "kan1"

// The most a plan may carry after its fixed part: arguments and
// environment together cannot pass execve's limit anyway.
#define KAN_PLAN_MAX_SIZE (16u << 20)

// kan_exec_stage reads a plan from sync_fd, becomes its process and
// executes it. It never returns: a failure is reported on sync_fd.
void kan_exec_stage(int sync_fd) __attribute__((noreturn));

// kan_fail (nsenter.c) reports the failure to kan over the sync socket,
// with errno's text unless errno is 0, and exits.
void kan_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

// kan_fail_prefix starts every message kan_fail sends.
extern const char *kan_fail_prefix;

#endif
