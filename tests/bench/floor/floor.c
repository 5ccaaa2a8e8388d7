// floor: the kernel work of starting a container and nothing else, as the
// benchmark's lower bound. It does what a runtime must for a default
// `kan spec` bundle — new pid, mount, ipc, uts and net namespaces, a
// cgroup, the default mounts, pivot_root, execve — with no config to read,
// no state to keep and no runtime to start.
//
//	floor ROOTFS CGROUP_PARENT PROGRAM
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	_exit(1);
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
	if (mount(src, dst, type, flags, data) < 0)
		die(dst);
}

static char *rootfs, *program;

static int child(void *arg)
{
	(void)arg;
	mnt(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL);
	mnt(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL);
	if (chdir(rootfs) < 0)
		die("chdir");
	mnt("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mnt("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
	mkdir("dev/pts", 0755);
	mnt("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	mkdir("dev/shm", 01777);
	mnt("shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
	mkdir("dev/mqueue", 0755);
	mnt("mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mnt("sysfs", "sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
	const char *devs[] = {"null", "zero", "full", "random", "urandom", "tty"};
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		char host[64], dst[64];
		snprintf(host, sizeof(host), "/dev/%s", devs[i]);
		snprintf(dst, sizeof(dst), "dev/%s", devs[i]);
		close(open(dst, O_CREAT | O_WRONLY, 0666));
		mnt(host, dst, NULL, MS_BIND, NULL);
	}
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		die("umount old root");
	if (chdir("/") < 0)
		die("chdir /");
	char *argv[] = {program, NULL};
	execv(program, argv);
	die("execv");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: floor ROOTFS CGROUP_PARENT PROGRAM\n");
		return 2;
	}
	rootfs = argv[1];
	program = argv[3];
	char cg[4096], procs[4200], pid[32];
	snprintf(cg, sizeof(cg), "%s/floor-%d", argv[2], getpid());
	if (mkdir(cg, 0755) < 0)
		die(cg);
	// Join the cgroup first, so that the child is born in it.
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	int fd = open(procs, O_WRONLY);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		die(procs);
	close(fd);
	static char stack[1 << 16];
	int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | SIGCHLD;
	pid_t c = clone(child, stack + sizeof(stack), flags, NULL);
	if (c < 0)
		die("clone");
	int status;
	waitpid(c, &status, 0);
	// Leave the cgroup to remove it.
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", argv[2]);
	fd = open(procs, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		die(procs);
	close(fd);
	if (rmdir(cg) < 0)
		die("rmdir cgroup");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
