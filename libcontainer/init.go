package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/capabilities"
	"github.com/kan-runtime/kan/libcontainer/console"
	"github.com/kan-runtime/kan/libcontainer/hooks"
	"github.com/kan-runtime/kan/libcontainer/lsm"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/procattr"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
	"github.com/kan-runtime/kan/libcontainer/safeproc"
	"github.com/kan-runtime/kan/spec"
)

// initConfig is what kan sends `kan init` once it is in its namespaces.
type initConfig struct {
	ID           string    `json:"id"`
	Spec         *wireSpec `json:"spec"`
	Bundle       string    `json:"bundle"`
	Rootfs       string    `json:"rootfs"`
	NoPivot      bool      `json:"noPivot,omitempty"`
	NoNewKeyring bool      `json:"noNewKeyring,omitempty"`
	CgroupDir    string    `json:"cgroupDir,omitempty"`
	PreserveFds  int       `json:"preserveFds,omitempty"`
	FifoFd       int       `json:"fifoFd"`
	DoneFd       int       `json:"doneFd"`
	ConsoleFd    int       `json:"consoleFd"` // -1: no terminal
}

// Init is the body of `kan init`: the process that becomes the container.
// It is already in its namespaces and cgroup (nsenter ran before the Go
// runtime). It never returns on success: it executes the user program once
// `kan start` writes to the exec fifo.
func Init() {
	// Capabilities, no_new_privs and the keep-caps flag belong to a
	// thread: everything from here to execve runs on this one.
	runtime.LockOSThread()
	// The name tells `kan state` that the user program has not started.
	// main's init locks this goroutine to the main thread, whose name is
	// the one /proc/<pid>/comm shows.
	name := []byte(initComm + "\x00")
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)

	fd, err := strconv.Atoi(os.Getenv(nsenter.EnvSync))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kan init: must be started by kan create")
		os.Exit(2)
	}
	unix.CloseOnExec(fd)
	conn := newSyncConn(os.NewFile(uintptr(fd), "sync"))
	for _, k := range []string{nsenter.EnvSync, nsenter.EnvJoin, nsenter.EnvNew, nsenter.EnvTimeOffsets} {
		os.Unsetenv(k)
	}
	m, err := conn.recv()
	switch {
	case err != nil:
	case m.Type == msgConfig && m.Config != nil:
		var c initConfig
		if err = json.Unmarshal(m.Config, &c); err == nil {
			err = initContainer(&c, conn)
		}
	default:
		err = fmt.Errorf("expected config, got %q", m.Type)
	}
	// It returns only on failure.
	conn.send(message{Type: msgError, Msg: err.Error()})
	os.Exit(1)
}

func initContainer(c *initConfig, conn *syncConn) error {
	s := c.Spec.spec()
	p := s.Process
	unix.CloseOnExec(c.FifoFd)
	unix.CloseOnExec(c.DoneFd)
	fifo := os.NewFile(uintptr(c.FifoFd), "exec.fifo")
	done := os.NewFile(uintptr(c.DoneFd), "exec.done")

	if !c.NoNewKeyring {
		// A session keyring of its own, so that the container cannot see
		// or use the keys of kan's session.
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + c.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}

	// The rootfs is built in the container's mount namespace, new or
	// joined (a joined one gets the container's root too, as with runc);
	// checkSupported made sure there is one.
	trees, err := receiveTrees(s, conn)
	if err != nil {
		return err
	}
	rc := &rootfs.Config{
		HostTrees: trees,
		Spec:      s,
		Rootfs:    c.Rootfs,
		Bundle:    c.Bundle,
		NoPivot:   c.NoPivot,
		UserNS:    hasUserNS(s),
		CgroupDir: c.CgroupDir,
		CgroupNS:  namespaces.IsNew(s.Linux.Namespaces, specs.CgroupNamespace),
	}
	if err := rootfs.Prepare(rc); err != nil {
		return err
	}
	state, err := runCreateHooks(s, conn)
	if err != nil {
		return err
	}
	if err := rootfs.Pivot(c.Rootfs, c.NoPivot); err != nil {
		return err
	}
	if err := setupTerminal(c.ConsoleFd, p.ConsoleSize, p.User.UID); err != nil {
		return err
	}
	if err := setNames(s); err != nil {
		return err
	}
	if err := rootfs.Finish(s); err != nil {
		return err
	}
	path, env, err := becomeProcess(p, s.Linux, c.PreserveFds)
	if err != nil {
		return err
	}

	if err := conn.send(message{Type: msgReady}); err != nil {
		return err
	}
	conn.Close()
	// Created: wait until `kan start` writes a byte into the exec fifo.
	if err := waitStart(fifo); err != nil {
		os.Exit(1) // nobody will start us any more
	}
	fifo.Close()
	if s.Hooks != nil {
		// startContainer: in the container, before the program. A failure
		// stops the container and is reported to start through exec.done.
		if err := hooks.Run("startContainer", s.Hooks.StartContainer, state); err != nil {
			done.WriteString(err.Error())
			os.Exit(1)
		}
	}
	// rlimits last: an address-space limit must not starve the Go
	// runtime of the init itself. checkRlimits made sure they apply.
	if err := setRlimits(p.Rlimits); err != nil {
		done.WriteString(err.Error())
		os.Exit(1)
	}
	resetLibcSignals()
	// exec.done closes on exec: that tells start the program runs.
	err = unix.Exec(path, p.Args, env)
	done.WriteString(fmt.Sprintf("exec %s: %v", path, err))
	os.Exit(127)
	return nil
}

// setNames sets the hostname and domainname of the container's UTS
// namespace and the sysctls of linux.sysctl, from a thread in the
// container's namespaces (the sysctls of a namespace are those of the
// writer's).
func setNames(s *specs.Spec) error {
	if _, ok := namespaces.Find(s.Linux.Namespaces, specs.UTSNamespace); ok {
		if s.Hostname != "" {
			if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
				return fmt.Errorf("hostname: %w", err)
			}
		}
		if s.Domainname != "" {
			if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
				return fmt.Errorf("domainname: %w", err)
			}
		}
	}
	for key, value := range s.Linux.Sysctl {
		// "a.b.c" or, when a name holds dots (an interface eth0.100),
		// "a/b/c" with the dots kept, as sysctl(8) reads keys.
		rel := key
		if !strings.Contains(key, "/") {
			rel = strings.ReplaceAll(key, ".", "/")
		}
		path := filepath.Join("sys", rel)
		if err := safeproc.WriteRoot(path, value); err != nil {
			return fmt.Errorf("linux.sysctl %s: %w", key, err)
		}
	}
	return nil
}

// resetLibcSignals gives the signals the C library keeps for itself (32
// to 34, which the Go runtime leaves alone) their default action, so that
// one kan's caller ignored does not reach the program ignored. Right
// before execve, nothing of this process needs them any more.
func resetLibcSignals() {
	var dfl struct {
		handler, flags, restorer uintptr
		mask                     uint64
	} // handler 0: SIG_DFL
	for sig := uintptr(32); sig <= 34; sig++ {
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
}

// setupTerminal gives the init a terminal whose master goes over the
// console socket at fd (none when fd < 0), owned by uid, and makes it
// /dev/console.
func setupTerminal(fd int, size *specs.Box, uid uint32) error {
	if fd < 0 {
		return nil
	}
	sock := os.NewFile(uintptr(fd), "console-socket")
	defer sock.Close()
	if err := console.Setup(sock, size, uid); err != nil {
		return fmt.Errorf("process.terminal: %w", err)
	}
	return nil
}

// becomeProcess turns this thread into the container's process p, up to
// the execve: attributes the kernel keeps across exec, working directory,
// user and groups, capabilities, no_new_privs, LSM labels; every fd above
// stdio and the preserved ones closes on exec. It returns the program's
// path and environment. The init and `kan exec` share it.
func becomeProcess(p *specs.Process, l *specs.Linux, preserveFds int) (path string, env []string, err error) {
	if p.OOMScoreAdj != nil {
		if err := safeproc.WriteSelf("oom_score_adj", strconv.Itoa(*p.OOMScoreAdj)); err != nil {
			return "", nil, fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}

	// Attributes the program inherits through execve. Set while the init
	// still has every capability: a real-time policy or I/O class needs
	// CAP_SYS_NICE or CAP_SYS_ADMIN, which the program may not get.
	if err := procattr.Personality(l.Personality); err != nil {
		return "", nil, err
	}
	if err := procattr.Scheduler(p.Scheduler); err != nil {
		return "", nil, err
	}
	if err := procattr.IOPriority(p.IOPriority); err != nil {
		return "", nil, err
	}
	if err := procattr.MemoryPolicy(l.MemoryPolicy); err != nil {
		return "", nil, err
	}
	if a := p.ExecCPUAffinity; a != nil {
		if err := procattr.CPUAffinity("process.execCPUAffinity.final", a.Final); err != nil {
			return "", nil, err
		}
	}

	if err := checkRlimits(p.Rlimits); err != nil {
		return "", nil, err
	}
	env = p.Env
	if err := unix.Chdir(p.Cwd); err != nil {
		return "", nil, fmt.Errorf("process.cwd %s: %w", p.Cwd, err)
	}
	// The working directory must be inside the container. getcwd fails
	// for a directory outside our root, which is how a leaked host fd used
	// as cwd shows itself (the CVE-2024-21626 class).
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return "", nil, fmt.Errorf("process.cwd %s: not reachable inside the container", p.Cwd)
	}
	execUser, err := lookupUser(p.User, env)
	if err != nil {
		return "", nil, err
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+execUser.Home)
	}
	path, err = lookPath(p.Args[0], env)
	if err != nil {
		return "", nil, fmt.Errorf("process.args[0]: %w", err)
	}

	caps, err := capabilities.Parse(p.Capabilities)
	if err != nil {
		return "", nil, err
	}
	// kan warned about these already (Create, Exec).
	if _, err := caps.DropUngrantable(); err != nil {
		return "", nil, err
	}
	if err := caps.ApplyBounding(); err != nil {
		return "", nil, err
	}
	if err := switchUser(execUser, p.User); err != nil {
		return "", nil, err
	}
	if err := caps.Apply(); err != nil {
		return "", nil, err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return "", nil, fmt.Errorf("process.noNewPrivileges: %w", err)
		}
	}
	// No fd of kan's may reach the user program: everything above stdio
	// and the preserved fds closes on exec.
	if err := closeExtraFds(3 + preserveFds); err != nil {
		return "", nil, err
	}

	if err := lsm.SetExecAttrs(p.ApparmorProfile, p.SelinuxLabel); err != nil {
		return "", nil, err
	}

	return path, env, nil
}

// runCreateHooks asks kan to run the runtime-side create hooks (prestart,
// createRuntime), then runs createContainer here: in the container's
// namespaces, before pivot_root, so paths still resolve on the host. It
// returns the state JSON, which startContainer hooks get too.
func runCreateHooks(s *specs.Spec, conn *syncConn) ([]byte, error) {
	h := s.Hooks
	if h == nil || len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer) == 0 {
		return nil, nil
	}
	if err := conn.send(message{Type: msgHooks}); err != nil {
		return nil, err
	}
	m, err := conn.recv()
	if err != nil {
		return nil, err
	}
	if m.Type != msgHooksDone {
		return nil, fmt.Errorf("expected %s, got %q", msgHooksDone, m.Type)
	}
	if err := hooks.Run("createContainer", h.CreateContainer, m.State); err != nil {
		return nil, err
	}
	return m.State, nil
}

// receiveTrees asks kan for the mounts of the config only kan can make
// (rootfs.FromHost), and returns them by mount index.
func receiveTrees(s *specs.Spec, conn *syncConn) (map[int]*os.File, error) {
	var idx []int
	for i, m := range s.Mounts {
		if rootfs.FromHost(m, hasUserNS(s)) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, nil
	}
	if err := conn.send(message{Type: msgMountFds}); err != nil {
		return nil, err
	}
	files, err := conn.recvFiles(len(idx))
	if err != nil {
		return nil, err
	}
	out := map[int]*os.File{}
	for j, i := range idx {
		out[i] = files[j]
	}
	return out, nil
}

func hasUserNS(s *specs.Spec) bool {
	_, ok := namespaces.Find(s.Linux.Namespaces, specs.UserNamespace)
	return ok
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// lookupUser finds the container user's home and supplementary groups in
// the container's /etc/passwd and /etc/group; the numeric ids of the config
// always win. A file that is missing or is not a regular file counts as
// empty: a fifo in its place must not hang the init (nor a device be
// read for it).
func lookupUser(u specs.User, env []string) (*user.ExecUser, error) {
	// Validate refused larger ids, but a passwd entry with one would
	// skip moby/sys/user's own check; (uid_t)-1 would leave us root.
	if err := spec.CheckUserIDs(u); err != nil {
		return nil, err
	}
	defaults := &user.ExecUser{Uid: int(u.UID), Gid: int(u.GID), Home: "/"}
	var files [2]io.Reader // passwd, group; nil: none
	for i, name := range []string{"/etc/passwd", "/etc/group"} {
		if f := openRegular(name); f != nil {
			defer f.Close()
			files[i] = f
		}
	}
	eu, err := user.GetExecUser(fmt.Sprintf("%d:%d", u.UID, u.GID), defaults, files[0], files[1])
	if err != nil {
		return nil, fmt.Errorf("process.user: %w", err)
	}
	return eu, nil
}

// openRegular opens name for reading if it is a regular file, without
// blocking on a fifo; nil otherwise.
func openRegular(name string) *os.File {
	f, err := os.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil
	}
	return f
}

// switchUser sets the supplementary groups, gid and uid, keeping the
// permitted capabilities across the uid change so that Apply can then set
// exactly the configured ones.
func switchUser(eu *user.ExecUser, u specs.User) error {
	groups := append([]int{}, eu.Sgids...)
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keep-caps: %w", err)
	}
	if err := setgroupsThread(groups); err != nil {
		// A user namespace whose setgroups is denied accepts only
		// "no groups" — and only if none were asked for.
		if !(errors.Is(err, unix.EPERM) && len(groups) == 0) {
			return fmt.Errorf("process.user.additionalGids %v: %w", groups, err)
		}
	}
	if err := setresThread(unix.SYS_SETRESGID, int(u.GID)); err != nil {
		return fmt.Errorf("process.user.gid %d: %w", u.GID, err)
	}
	if err := setresThread(unix.SYS_SETRESUID, int(u.UID)); err != nil {
		return fmt.Errorf("process.user.uid %d: %w", u.UID, err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keep-caps: %w", err)
	}
	if u.Umask != nil {
		unix.Umask(int(*u.Umask))
	}
	return nil
}

// setgroupsThread and setresThread change the credentials of this thread
// only, with the raw system calls. The libc wrappers (which cgo makes Go's
// own calls go through) change every thread of the process, by signalling
// each one in turn: a costly round on a virtual machine, and needless
// here, where the only thread that matters is this one: it executes the
// program, and execve ends the others, which run nothing but the Go
// runtime until then.
func setgroupsThread(gids []int) error {
	list := make([]uint32, len(gids))
	for i, g := range gids {
		list[i] = uint32(g)
	}
	var p unsafe.Pointer
	if len(list) > 0 {
		p = unsafe.Pointer(&list[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(list)), uintptr(p), 0); e != 0 {
		return e
	}
	return nil
}

// setresThread sets the real, effective and saved ids of trap
// (SYS_SETRESUID or SYS_SETRESGID) to id.
func setresThread(trap uintptr, id int) error {
	if _, _, e := unix.RawSyscall(trap, uintptr(id), uintptr(id), uintptr(id)); e != 0 {
		return e
	}
	return nil
}

// lookPath finds the program to execute the way execvp would, with the
// container's PATH, inside the container's root.
func lookPath(name string, env []string) (string, error) {
	return searchPath(name, env, checkExecutable)
}

// searchPath finds name as execvp would: a name with a slash as it is,
// any other in each directory of the PATH of env, in order; check says
// whether a candidate is an executable file.
func searchPath(name string, env []string, check func(string) error) (string, error) {
	if strings.Contains(name, "/") {
		return name, check(name)
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if check(p) == nil {
			return p, nil
		}
	}
	// runc's phrase: Docker and Podman map it to exit status 127.
	return "", fmt.Errorf("%q: executable file not found in $PATH (%s)", name, pathEnv)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("executable %s: %w", p, err)
	}
	// The errno execve would give: engines map "permission denied"
	// (and "is a directory") to exit status 126.
	if fi.IsDir() {
		return fmt.Errorf("exec %s: %w", p, unix.EISDIR)
	}
	if fi.Mode()&0o111 == 0 {
		return fmt.Errorf("exec %s: %w", p, unix.EACCES)
	}
	return nil
}

// closeExtraFds marks every fd from first up close-on-exec.
func closeExtraFds(first int) error {
	if err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	// Before Linux 5.11: from a procfs checked to be one, since the
	// container's /proc could list fds that are not ours and hide ours.
	fds, err := safeproc.SelfFds()
	if err != nil {
		return fmt.Errorf("list fds: %w", err)
	}
	for _, fd := range fds {
		if fd >= first {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// checkRlimits finds, before the container is reported created, any limit
// that could not be set: a hard limit above ours needs CAP_SYS_RESOURCE.
// It raises such hard limits now (soft ones untouched), which is what
// setRlimits then needs.
func checkRlimits(rls []specs.POSIXRlimit) error {
	for _, rl := range rls {
		res, ok := rlimitTypes[rl.Type]
		if !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", rl.Type)
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err != nil {
			return fmt.Errorf("process.rlimits %s: %w", rl.Type, err)
		}
		if rl.Hard > cur.Max {
			if err := unix.Setrlimit(res, &unix.Rlimit{Cur: min(cur.Cur, rl.Hard), Max: rl.Hard}); err != nil {
				return fmt.Errorf("process.rlimits %s (soft %d, hard %d): %w", rl.Type, rl.Soft, rl.Hard, err)
			}
		}
	}
	return nil
}

// setRlimits applies process.rlimits.
func setRlimits(rls []specs.POSIXRlimit) error {
	for _, rl := range rls {
		if err := unix.Setrlimit(rlimitTypes[rl.Type], &unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return fmt.Errorf("process.rlimits %s (soft %d, hard %d): %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}
