package libcontainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/hooks"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
	"github.com/kan-runtime/kan/libcontainer/safeproc"
)

// initConfig is what kan sends `kan init` once it is in its namespaces:
// what the Go init needs to build the rootfs and run the hooks, and the
// plan of the process it then becomes through the applier (nsenter.Load),
// the one the C init and the exec stage use too.
type initConfig struct {
	Spec    *wireSpec `json:"spec"`
	Bundle  string    `json:"bundle"`
	Rootfs  string    `json:"rootfs"`
	NoPivot bool      `json:"noPivot,omitempty"`
	// CgroupDir is the host path of the container's cgroup.
	CgroupDir string `json:"cgroupDir,omitempty"`
	// Rootless: kan is the container's own user (CreateOptions.Rootless),
	// so the init reaches every bind source kan could.
	Rootless bool `json:"rootless,omitempty"`
	// Plan is the process's plan (ExecPlan.Marshal): the same bytes the
	// C init stage reads.
	Plan []byte `json:"plan"`
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
	// The plan is checked now; a bad one is reported to kan from C, which
	// then exits, as every failure of the applier does.
	proc := nsenter.Load(c.Plan)
	unix.CloseOnExec(proc.FifoFd())
	unix.CloseOnExec(proc.DoneFd())
	fifo := os.NewFile(uintptr(proc.FifoFd()), "exec.fifo")
	proc.JoinKeyring()

	// The rootfs is built in the container's mount namespace, new or
	// joined (a joined one gets the container's root too, as with runc);
	// checkSupported made sure there is one.
	trees, err := receiveTrees(s, c.Rootless, conn)
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
	proc.SetupTerminal()
	if err := setNames(s); err != nil {
		return err
	}
	if err := rootfs.Finish(s); err != nil {
		return err
	}
	proc.Become()

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
			os.NewFile(uintptr(proc.DoneFd()), "exec.done").WriteString(err.Error())
			os.Exit(1)
		}
	}
	// exec.done closes on exec: that tells start the program runs.
	proc.Run()
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

// fromHost tells whether kan makes mount m for the init
// (rootfs.FromHost). Rootless, kan is the very user the container's root
// maps to: what kan could reach, the init reaches too, and kan could not
// enter the container's mount namespace anyway (that takes CAP_SYS_ADMIN
// in kan's own user namespace).
func fromHost(s *specs.Spec, m specs.Mount, rootless bool) bool {
	return rootfs.FromHost(m, hasUserNS(s) && !rootless)
}

// receiveTrees asks kan for the mounts of the config only kan can make
// (rootfs.FromHost), and returns them by mount index.
func receiveTrees(s *specs.Spec, rootless bool, conn *syncConn) (map[int]*os.File, error) {
	var idx []int
	for i, m := range s.Mounts {
		if fromHost(s, m, rootless) {
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

var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}
