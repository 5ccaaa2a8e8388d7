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

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/hooks"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
	"github.com/kan-runtime/kan/libcontainer/safeproc"
)

// initConfig is what kan sends `kan init` once it is in its namespaces:
// what the Go init needs of the container's model to build the rootfs,
// set the names and run the hooks, and the plan of the process it then
// becomes through the applier (nsenter.Load), the one the C init and the
// exec stage use too. It holds only small types: encoding/json builds, on
// the first decode into a type, decoders for every type reachable from
// it, and the init's start-up should not pay for linux.resources.
type initConfig struct {
	Rootfs *rootfs.Config `json:"rootfs"`
	Names  names          `json:"names"`
	Hooks  *specs.Hooks   `json:"hooks,omitempty"`
	// Plan is the process's plan (ExecPlan.Marshal): the same bytes the
	// C init stage reads.
	Plan []byte `json:"plan"`
}

// rootfsConfig is what builds the rootfs of container cfg, whose cgroup
// is cgroupDir, for either init; rootless: kan runs rootless
// (CreateOptions.Rootless).
func rootfsConfig(cfg *config.Container, cgroupDir string, noPivot, rootless bool) *rootfs.Config {
	return &rootfs.Config{
		Rootfs: cfg.Rootfs, Readonly: cfg.Readonly, Bundle: cfg.Bundle, NoPivot: noPivot, Rootless: rootless,
		UserNS:    cfg.HasNamespace(specs.UserNamespace),
		CgroupDir: cgroupDir,
		CgroupNS:  namespaces.IsNew(cfg.Namespaces, specs.CgroupNamespace),
		Terminal:  cfg.Process.Terminal,
		Mounts:    cfg.Mounts, Devices: cfg.Devices, RootfsPropagation: cfg.RootfsPropagation,
		MaskedPaths: cfg.MaskedPaths, ReadonlyPaths: cfg.ReadonlyPaths, MountLabel: cfg.MountLabel,
	}
}

// names are what the init sets in the container's namespaces beside its
// rootfs: the hostname and domainname of its UTS namespace, when it has
// one, and the sysctls.
type names struct {
	Hostname   string            `json:"hostname,omitempty"`
	Domainname string            `json:"domainname,omitempty"`
	Sysctl     map[string]string `json:"sysctl,omitempty"`
}

func namesOf(cfg *config.Container) names {
	n := names{Sysctl: cfg.Sysctl}
	if cfg.HasNamespace(specs.UTSNamespace) {
		n.Hostname, n.Domainname = cfg.Hostname, cfg.Domainname
	}
	return n
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
	for _, k := range []string{nsenter.EnvSync, nsenter.EnvJoin, nsenter.EnvNew, nsenter.EnvTimeOffsets, nsenter.EnvSigmask} {
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
	// The plan is checked now; a bad one is reported to kan from C, which
	// then exits, as every failure of the applier does.
	proc := nsenter.Load(c.Plan)
	unix.CloseOnExec(proc.FifoFd())
	unix.CloseOnExec(proc.DoneFd())
	fifo := os.NewFile(uintptr(proc.FifoFd()), "exec.fifo")
	proc.JoinKeyring()

	// The rootfs is built in the container's mount namespace, new or
	// joined (a joined one gets the container's root too, as with runc);
	// the config's check made sure there is one.
	rc := c.Rootfs
	trees, err := receiveTrees(rc, conn)
	if err != nil {
		return err
	}
	rc.HostTrees = trees
	if err := rootfs.Prepare(rc); err != nil {
		return err
	}
	state, err := runCreateHooks(c.Hooks, conn)
	if err != nil {
		return err
	}
	if err := rootfs.Pivot(rc.Rootfs, rc.NoPivot); err != nil {
		return err
	}
	proc.SetupTerminal()
	if err := c.Names.set(); err != nil {
		return err
	}
	if err := rootfs.Finish(rc); err != nil {
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
	if c.Hooks != nil {
		// startContainer: in the container, before the program. A failure
		// stops the container and is reported to start through exec.done.
		if err := hooks.Run("startContainer", c.Hooks.StartContainer, state); err != nil {
			os.NewFile(uintptr(proc.DoneFd()), "exec.done").WriteString(err.Error())
			os.Exit(1)
		}
	}
	// exec.done closes on exec: that tells start the program runs.
	proc.Run()
	return nil
}

// set sets the hostname and domainname of the container's UTS namespace
// and the sysctls, from a thread in the container's namespaces (the
// sysctls of a namespace are those of the writer's).
func (n names) set() error {
	if n.Hostname != "" {
		if err := unix.Sethostname([]byte(n.Hostname)); err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
	}
	if n.Domainname != "" {
		if err := unix.Setdomainname([]byte(n.Domainname)); err != nil {
			return fmt.Errorf("domainname: %w", err)
		}
	}
	for key, value := range n.Sysctl {
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
func runCreateHooks(h *specs.Hooks, conn *syncConn) ([]byte, error) {
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
// (rootfs.FromHost), in a container with a user namespace of its own or
// not. Rootless, kan is the very user the container's root maps to: what
// kan could reach, the init reaches too, and kan could not enter the
// container's mount namespace anyway (that takes CAP_SYS_ADMIN in kan's
// own user namespace).
func fromHost(m specs.Mount, userNS, rootless bool) bool {
	return rootfs.FromHost(m, userNS && !rootless)
}

// receiveTrees asks kan for the mounts of the config only kan can make
// (rootfs.FromHost), and returns them by mount index.
func receiveTrees(rc *rootfs.Config, conn *syncConn) (map[int]*os.File, error) {
	var idx []int
	for i, m := range rc.Mounts {
		if fromHost(m, rc.UserNS, rc.Rootless) {
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
