package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/spec"
)

// What this host has, read directly from the kernel, so that a test
// expects what kan must do here: refuse a feature the host lacks, use it
// where it exists.

// hostAppArmor tells whether the kernel runs AppArmor (Debian's default).
func hostAppArmor() bool {
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.HasPrefix(string(data), "Y")
}

// hostSELinux tells whether the kernel runs SELinux: selinuxfs is mounted.
func hostSELinux() bool {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if _, after, ok := strings.Cut(l, " - "); ok && strings.HasPrefix(after, "selinuxfs ") {
			return true
		}
	}
	return false
}

// hostList reads a kernel list file ("0-3,8") under /sys; nil if absent.
func hostList(t *testing.T, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(data)) == "" {
		return nil
	}
	list, err := spec.ParseList(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return list
}

// statusList reads a list field of /proc/self/status (Mems_allowed_list).
func statusList(t *testing.T, field string) []int {
	t.Helper()
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":\t"); ok {
			list, err := spec.ParseList(v)
			if err != nil {
				t.Fatalf("%s %q: %v", field, v, err)
			}
			return list
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return nil
}

// memNode is the lowest NUMA node that has memory and that this process
// may allocate from: the node a memory policy can bind to here; "" where
// there is none.
func memNode(t *testing.T) string {
	t.Helper()
	allowed := statusList(t, "Mems_allowed_list")
	for _, n := range hostList(t, "/sys/devices/system/node/has_memory") {
		if slices.Contains(allowed, n) {
			return strconv.Itoa(n)
		}
	}
	return ""
}

// pastLast is one past the highest entry of a kernel list file: a CPU or
// node number the host can never have.
func pastLast(t *testing.T, path string) string {
	t.Helper()
	list := hostList(t, path)
	if len(list) == 0 {
		t.Fatalf("%s: empty or missing", path)
	}
	return strconv.Itoa(slices.Max(list) + 1)
}

// twoCPUs are the two lowest CPUs this process may run on; ok is false
// where it may run on one only.
func twoCPUs(t *testing.T) (a, b int, ok bool) {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for i := 0; i < len(set)*64 && len(cpus) < 2; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	if len(cpus) < 2 {
		return 0, 0, false
	}
	return cpus[0], cpus[1], true
}

// deadlineRefused is why this host refuses SCHED_DEADLINE to a thread of
// this process (admission control, a restricted cpuset, RT throttling
// settings), or nil. The probe runs on a thread of its own, which exits
// with the policy.
func deadlineRefused() error {
	done := make(chan error)
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		const schedDeadline = 6
		done <- unix.SchedSetAttr(0, &unix.SchedAttr{Policy: schedDeadline,
			Runtime: 10_000_000, Deadline: 50_000_000, Period: 100_000_000}, 0)
	}()
	return <-done
}

// userNSFd opens a user namespace mapping ids 0-65535 to 100000 on (as
// withUserNS does): that of a child made for it, which is then ended.
func userNSFd(t *testing.T) int {
	t.Helper()
	if userNSRefused != nil {
		t.Skipf("this host cannot make a user namespace: %v", userNSRefused)
	}
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 65536}},
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("a child in a new user namespace: %v", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// idmapRefused is why the kernel refuses an idmapped mount of mnt, a
// detached mount fd (nothing is mounted anywhere), or nil.
func idmapRefused(t *testing.T, mnt int) error {
	t.Helper()
	ns := userNSFd(t)
	defer unix.Close(ns)
	return unix.MountSetattr(mnt, "", unix.AT_EMPTY_PATH,
		&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns)})
}

// skipUnlessIdmappable skips the test where the filesystem of dir cannot
// be idmapped (tmpfs before Linux 6.3, NFS, ZFS...), naming it.
func skipUnlessIdmappable(t *testing.T, dir string) {
	t.Helper()
	mnt, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		t.Fatalf("open_tree %s: %v", dir, err)
	}
	defer unix.Close(mnt)
	if err := idmapRefused(t, mnt); err != nil {
		fs, _ := exec.Command("stat", "-f", "-c", "%T", dir).Output()
		t.Skipf("the filesystem of %s (%s) cannot be idmapped here: %v", dir, strings.TrimSpace(string(fs)), err)
	}
}

// skipUnlessTmpfsIdmappable skips the test where a tmpfs cannot be
// idmapped (before Linux 6.3).
func skipUnlessTmpfsIdmappable(t *testing.T) {
	t.Helper()
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		t.Fatalf("fsopen tmpfs: %v", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigCreate(fsfd); err != nil {
		t.Fatalf("fsconfig tmpfs: %v", err)
	}
	mnt, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("fsmount tmpfs: %v", err)
	}
	defer unix.Close(mnt)
	if err := idmapRefused(t, mnt); err != nil {
		t.Skipf("a tmpfs cannot be idmapped here (Linux 6.3 or later can): %v", err)
	}
}

// idleUID is a uid that no process on the host runs as: RLIMIT_NPROC
// counts every process of the uid, so a limit tested under it neither
// starts short nor stops a host user's forks.
func idleUID(t *testing.T) uint32 {
	t.Helper()
	used := map[uint32]bool{}
	status, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, f := range status {
		data, _ := os.ReadFile(f) // a process that ended meanwhile: nothing
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "Uid:"); ok {
				for _, id := range strings.Fields(v) {
					n, _ := strconv.ParseUint(id, 10, 32)
					used[uint32(n)] = true
				}
			}
		}
	}
	for uid := uint32(2_000_000_000); uid < 2_000_001_000; uid++ {
		if !used[uid] {
			return uid
		}
	}
	t.Fatal("no idle uid in 2000000000-2000000999")
	return 0
}

// skipUnlessKmsgReadable skips a test that tells device rules apart by
// opening 1:11 (/dev/kmsg) where the host itself cannot open it for
// reading (printk.devkmsg=off, or a device rule of the runner's own
// cgroup): there, an allowed open fails as a denied one does.
func skipUnlessKmsgReadable(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/dev/kmsg", os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("this host cannot open /dev/kmsg for reading (printk.devkmsg=off?): %v", err)
	}
	f.Close()
}

// memAvailable is the host's MemAvailable, in bytes.
func memAvailable(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("MemAvailable %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no MemAvailable in /proc/meminfo")
	return 0
}

// userNSRefused is why this host refuses to make a user namespace
// (user.max_user_namespaces=0, a sysctl or LSM restriction), or nil; set
// by TestMain.
var userNSRefused error

func probeUserNS() error {
	cmd := exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	if err := cmd.Run(); err != nil {
		max, _ := os.ReadFile("/proc/sys/user/max_user_namespaces")
		return fmt.Errorf("%w (user.max_user_namespaces = %s)", err, strings.TrimSpace(string(max)))
	}
	return nil
}

// skipIfNoUserNS skips a test whose config makes a user namespace where
// the host cannot make one.
func skipIfNoUserNS(t *testing.T, s *specs.Spec) {
	t.Helper()
	if userNSRefused == nil || s.Linux == nil {
		return
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace && ns.Path == "" {
			t.Skipf("this host cannot make a user namespace: %v", userNSRefused)
		}
	}
}
