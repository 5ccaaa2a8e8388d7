package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/console"
	"github.com/kan-runtime/kan/libcontainer/exeseal"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
)

// childFds is where the process startInit starts — a container's init, or
// the process `kan exec` adds — finds its fds. startInit lays them out
// from its arguments in this order; the plans name them from here:
//
//	0-2                 stdio, shared with the caller (or the console)
//	3 .. 3+N-1          --preserve-fds, at the numbers the caller had them
//	Sync = 3+N          the sync socket
//	then, the init:     Fifo (exec.fifo), Done (exec.done)
//	      kan exec:     Root (the container's root, to chroot to)
//	Console             the console socket, with process.terminal (-1: none)
//	then                the namespaces nsenter joins (namespaces.Plan.Env)
//
// Every fd from Sync up is kan's and closes on exec.
type childFds struct {
	Sync, Fifo, Done, Root, Console int
}

// initFds is the layout of a container's init.
func initFds(preserveFds int, terminal bool) childFds {
	f := childFds{Sync: 3 + preserveFds, Root: -1, Console: -1}
	f.Fifo, f.Done = f.Sync+1, f.Sync+2
	if terminal {
		f.Console = f.Sync + 3
	}
	return f
}

// execFds is the layout of the process kan exec adds.
func execFds(preserveFds int, terminal bool) childFds {
	f := childFds{Sync: 3 + preserveFds, Fifo: -1, Done: -1, Console: -1}
	f.Root = f.Sync + 1
	if terminal {
		f.Console = f.Sync + 2
	}
	return f
}

// initProcess is the parent's handle on a starting `kan init`.
type initProcess struct {
	// started is the process kan started: the init, or nsenter's
	// intermediate process when it forks the init into a pid namespace.
	started int
	conn    *syncConn
	pid     int // the process that runs the container (after nsenter's fork)
	// seccomp, when set, takes the listener fd of a SCMP_ACT_NOTIFY
	// filter the process installs.
	seccomp *seccompListener
}

// recv reads the next message of the process; a seccomp listener fd it
// hands over on the way goes to the agent (seccompListener).
func (p *initProcess) recv() (message, error) {
	for {
		m, err := p.conn.recv()
		if err != nil || m.Type != msgSeccomp {
			return m, err
		}
		if err := p.passSeccompFd(); err != nil {
			return message{}, err
		}
	}
}

// passSeccompFd takes the listener fd the applier offers, gives it to the
// agent and lets the applier go on.
func (p *initProcess) passSeccompFd() error {
	if p.seccomp == nil {
		return errors.New("linux.seccomp: the process has a listener fd, but no listenerPath takes it")
	}
	if err := p.conn.send(message{Type: msgSeccompSend}); err != nil {
		return p.initFailed(err)
	}
	files, err := p.conn.recvFiles(1)
	if err != nil {
		return err
	}
	defer files[0].Close()
	if err := p.seccomp.send(files[0], p.pid); err != nil {
		return err
	}
	if err := p.conn.send(message{Type: msgSeccompDone}); err != nil {
		return p.initFailed(err)
	}
	return nil
}

// startInit starts `kan init` from a sealed copy of kan, inside the
// container's cgroup (clone3 with CLONE_INTO_CGROUP, so not one instruction
// runs outside it), with stdio passed through and the fds it needs:
//
//	0-2            stdio, shared with the caller (or the console)
//	3..3+N-1       --preserve-fds, at the numbers the caller had them
//	3+N            sync socket
//	3+N+1, 3+N+2   exec.fifo and exec.done, opened read-write (execfifo.go)
//	3+N+3          console socket, with process.terminal
//	then           namespaces to join
//
// stage says what the process runs once in its namespaces: "" the Go
// init, nsenter.StageExec the exec stage (C) of a process `kan exec`
// adds, nsenter.StageInit the init stage (C) of an init whose rootfs kan
// builds from outside (outside.go).
func startInit(exe *sealedExe, plan *namespaces.Plan, proc *config.Process, timeOffsets map[string]specs.LinuxTimeOffset, cgroupFd int, fifos []*os.File, preserveFds int, console *os.File, stage string) (*initProcess, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sync socket: %w", err)
	}
	parentSock := os.NewFile(uintptr(fds[0]), "sync-parent")
	childSock := os.NewFile(uintptr(fds[1]), "sync-child")
	defer childSock.Close()

	// The layout childFds describes.
	var extra []*os.File
	for i := 0; i < preserveFds; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), fmt.Sprintf("preserved-fd-%d", 3+i)))
	}
	syncFd := 3 + len(extra)
	extra = append(extra, childSock)
	extra = append(extra, fifos...)
	if console != nil {
		extra = append(extra, console)
	}
	// Namespaces that clone alone can make are made by clone, from here:
	// that spares nsenter a fork into the new pid namespace, and the
	// kernel memory of the namespaces is charged to kan, not to the
	// container. The rest is nsenter's.
	cloneFlags, byClone := plan.CloneFlags()
	var env []string
	if !byClone {
		env = plan.Env(3 + len(extra))
	}
	env = append(env, fmt.Sprintf("%s=%d", nsenter.EnvSync, syncFd))
	env = append(env, nsenter.ChildEnv()...)
	if stage != "" {
		env = append(env, nsenter.EnvStage+"="+stage)
	} else {
		env = append(env,
			// The init allocates little and lives briefly: no GC.
			"GOGC=off",
			// It runs one goroutine, locked to its thread: a second P
			// only makes the runtime start threads that execve must
			// then end.
			"GOMAXPROCS=1",
		)
	}
	if timeOffsets != nil {
		env = append(env, nsenter.EnvTimeOffsets+"="+timeOffsetsEnv(timeOffsets))
	}
	extra = append(extra, plan.Files()...)

	// Started with syscall.StartProcess, not os/exec: os.StartProcess
	// first checks, once per process, that pidfds work, by starting and
	// reaping a process of its own (0.4 to 1.5 ms here, in every create
	// and exec, right before this).
	files := []uintptr{0, 1, 2}
	for _, f := range extra {
		files = append(files, f.Fd())
	}
	attr := &syscall.ProcAttr{
		Env:   env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Cloneflags:  cloneFlags,
			UseCgroupFD: cgroupFd >= 0,
			CgroupFD:    cgroupFd,
		},
	}
	if stage == nsenter.StageInit {
		// The root, which pivot_root moves to the container's with the
		// root: no working directory of the init stays in the old one.
		attr.Dir = "/"
	}
	path, closeExe, err := exe.pathAbove(files)
	if err != nil {
		parentSock.Close()
		return nil, err
	}
	pid, err := startOnCPUs(path, []string{"kan", "init"}, attr, proc.InitialCPUs)
	closeExe()
	runtime.KeepAlive(extra)
	if err != nil {
		parentSock.Close()
		return nil, fmt.Errorf("start kan init: %w", err)
	}
	return &initProcess{started: pid, conn: newSyncConn(parentSock)}, nil
}

// sealedExe is kan's executable as a container's process is started from
// it: a handle that cannot be written through (see exeseal).
type sealedExe struct {
	file *os.File
}

func sealExe(root string) (*sealedExe, func(), error) {
	f, detach, err := exeseal.Open(emptyDir(root))
	if err != nil {
		return nil, nil, err
	}
	return &sealedExe{file: f}, detach, nil
}

// pathAbove returns a path that executes e through a descriptor that a
// child started with files keeps until its execve, and the function that
// closes it. syscall.StartProcess's child first moves the files that are
// in the way (at most all of them, and its error pipe) to numbers above
// both len(files) and the highest of them, then puts them at 0..n-1.
// The number is otherwise the lowest free one: a descriptor from 64 up
// grows the process's fd table, and in a process with threads the kernel
// waits for an RCU grace period before it frees the old table: 15–25 ms
// in the emulated VM, depending on what else runs (the bench's `exec`
// disagreed with the stopwatch by it).
func (e *sealedExe) pathAbove(files []uintptr) (string, func(), error) {
	fd, err := unix.FcntlInt(e.file.Fd(), unix.F_DUPFD_CLOEXEC, execFdFloor(files))
	if err != nil {
		return "", nil, fmt.Errorf("kan's sealed executable: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { unix.Close(fd) }, nil
}

// execFdFloor is the lowest descriptor the child of syscall.StartProcess
// with files leaves alone until it executes.
func execFdFloor(files []uintptr) int {
	top := len(files)
	for _, f := range files {
		top = max(top, int(f))
	}
	return top + 1 + len(files) + 1
}

func (e *sealedExe) Close() {
	if e != nil {
		e.file.Close()
	}
}

// ExeSeal is kan's sealed executable in the making, on a goroutine of its
// own: sealing takes a create 0.2–0.4 ms, which the CLI overlaps with
// reading the config and the state by starting it first (SealExe).
// Whoever holds it closes it, once the process is started or when it is
// not needed; Close may be called again.
type ExeSeal struct {
	done   chan struct{}
	exe    *sealedExe
	err    error
	closed bool
}

// SealExe starts sealing kan's executable for a process started by a
// command under root.
func SealExe(root string) *ExeSeal {
	s := &ExeSeal{done: make(chan struct{})}
	go func() {
		var detach func()
		s.exe, detach, s.err = sealExe(root)
		close(s.done)
		// After the handle is handed on: closing the mounts' handles
		// waits for an RCU grace period (exeseal.Open), which took 15–20
		// ms of every create and exec in the emulated VM.
		if detach != nil {
			detach()
		}
	}()
	return s
}

// wait returns the sealed executable once it is made.
func (s *ExeSeal) wait() (*sealedExe, error) {
	<-s.done
	return s.exe, s.err
}

// Close waits for the sealing and closes its executable.
func (s *ExeSeal) Close() {
	if s == nil {
		return
	}
	<-s.done
	if !s.closed {
		s.closed = true
		s.exe.Close()
	}
}

// startOnCPUs starts path with syscall.StartProcess (see startInit for
// why not os/exec), from a thread pinned to cpus when they are given
// (process.execCPUAffinity.initial), so that the init inherits them until
// it sets the final ones; kan's thread gets its own back.
func startOnCPUs(path string, argv []string, attr *syscall.ProcAttr, cpus *unix.CPUSet) (int, error) {
	start := func() (int, error) {
		pid, _, err := syscall.StartProcess(path, argv, attr)
		if err != nil {
			return 0, &os.PathError{Op: "fork/exec", Path: path, Err: err}
		}
		return pid, nil
	}
	if cpus == nil {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return 0, err
	}
	if err := unix.SchedSetaffinity(0, cpus); err != nil {
		return 0, fmt.Errorf("process.execCPUAffinity.initial: %w", err)
	}
	defer unix.SchedSetaffinity(0, &old)
	return start()
}

// reap waits for pid, a child of kan, to exit.
func reap(pid int) {
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return
		}
	}
}

// emptyDir is the empty second lower layer exeseal's overlay needs, or ""
// on a fresh root. Not the root itself: the seal is started before the
// command has checked anything, and a refused create must leave no root
// behind. The first seal under a fresh root uses a detached tmpfs instead
// (exeseal.Open).
func emptyDir(root string) string {
	dir := filepath.Join(root, ".exeseal-empty")
	if err := os.Mkdir(dir, 0o500); err != nil && !errors.Is(err, fs.ErrExist) {
		return ""
	}
	return dir
}

func timeOffsetsEnv(offsets map[string]specs.LinuxTimeOffset) string {
	var b strings.Builder
	for clock, off := range offsets {
		fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	return b.String()
}

// waitPid runs the nsenter stage's side of the protocol: it writes the id
// maps when asked and returns the pid of the process that will run the
// container.
//
// cfg is the container whose init this is; nil for a process exec adds,
// which makes no user namespace.
func (p *initProcess) waitPid(cfg *config.Container) (int, error) {
	for {
		m, err := p.conn.recv()
		if err != nil {
			return 0, p.initFailed(err)
		}
		switch m.Type {
		case msgUserns:
			if cfg == nil {
				return 0, errors.New("unexpected request for id maps from kan exec")
			}
			if err := namespaces.WriteIDMaps(p.started, cfg.UIDMappings, cfg.GIDMappings); err != nil {
				return 0, err
			}
			if err := p.conn.send(message{Type: msgUsernsDone}); err != nil {
				return 0, p.initFailed(err)
			}
		case msgPid:
			if m.Pid == 0 { // nsenter did not fork: the init is our child
				m.Pid = p.started
			}
			p.pid = m.Pid
			if m.Pid != p.started {
				// The intermediate process has forked the init
				// into its pid namespace and exits.
				reap(p.started)
			}
			return m.Pid, nil
		case msgError:
			return 0, errors.New(m.Msg)
		default:
			return 0, fmt.Errorf("unexpected message %q from kan init", m.Type)
		}
	}
}

// waitReady sends the config and waits until the init is created. When
// the init reaches the point for hooks, runHooks runs the runtime-side
// ones and returns the state JSON the init's own hooks get.
//
// mountTrees makes the mounts the init cannot make itself (idmapped
// ones), when it asks for them.
func (p *initProcess) waitReady(c *initConfig, runHooks func() ([]byte, error), mountTrees func() ([]*os.File, error)) error {
	config, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := p.conn.send(message{Type: msgConfig, Config: config}); err != nil {
		return p.initFailed(err)
	}
	for {
		m, err := p.recv()
		if err != nil {
			return p.initFailed(err)
		}
		switch m.Type {
		case msgReady:
			return nil
		case msgError:
			return errors.New(m.Msg)
		case msgMountFds:
			trees, err := mountTrees()
			if err != nil {
				return err
			}
			err = p.conn.sendFiles(trees)
			for _, t := range trees {
				t.Close()
			}
			if err != nil {
				return p.initFailed(err)
			}
		case msgHooks:
			state, err := runHooks()
			if err != nil {
				return err
			}
			if err := p.conn.send(message{Type: msgHooksDone, State: state}); err != nil {
				return p.initFailed(err)
			}
		default:
			return fmt.Errorf("unexpected message %q from kan init", m.Type)
		}
	}
}

// initFailed explains a broken sync connection.
func (p *initProcess) initFailed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
		return errors.New("kan init exited without reporting an error")
	}
	return fmt.Errorf("talk to kan init: %w", err)
}

// kill stops a failed init and reaps what is ours to reap.
func (p *initProcess) kill() {
	if p.pid > 0 && p.pid != p.started {
		unix.Kill(p.pid, unix.SIGKILL)
		reap(p.pid)
	}
	// Otherwise the intermediate process is reaped already, and its pid
	// may be another's.
	if p.pid == 0 || p.pid == p.started {
		unix.Kill(p.started, unix.SIGKILL)
		reap(p.started)
	}
	p.conn.Close()
}

// sendPidfd sends a pidfd of pid over sock, as runc's --pidfd-socket
// does: with SCM_RIGHTS, and the kind of process ("standard" for an init,
// "setns" for a process exec adds) as the message. The process is held
// by kan (it has not yet executed its program), so pid cannot name
// another one.
func sendPidfd(sock *os.File, pid int, kind string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: pidfd_open %d: %w", pid, err)
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	defer pidfd.Close()
	if err := console.SendFd(sock, kind, pidfd); err != nil {
		return fmt.Errorf("--pidfd-socket: send the pidfd: %w", err)
	}
	return nil
}
