package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/capabilities"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/procattr"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
)

// The process `kan exec` adds never runs Go: kan exec decides here, from
// outside, everything about it (the user's groups and home from the
// container's /etc files, the program from its PATH, the capability masks,
// the numbers of each attribute), and the exec stage in C only applies the
// plan (libcontainer/nsenter/laststage.c). Looking from outside goes
// through the init's root with openat2(RESOLVE_IN_ROOT), so that every
// path resolves as it would inside the container, and never beyond.

// planExec builds the plan for process p in the container whose root is
// root (and whose config's linux section is l). caps is p's parsed
// capabilities, already trimmed to what kan can grant. The fd numbers are
// those startInit gives the process: the sync socket after the preserved
// fds, then the root, then the console socket.
func planExec(p *specs.Process, l *specs.Linux, caps *capabilities.Set, root *os.File, preserveFds int, terminal bool) (*nsenter.ExecPlan, error) {
	plan := &nsenter.ExecPlan{
		RootFd:          3 + preserveFds + 1,
		ConsoleFd:       -1,
		FirstCloexecFd:  3 + preserveFds,
		UID:             p.User.UID,
		GID:             p.User.GID,
		Umask:           p.User.Umask,
		NoNewPrivileges: p.NoNewPrivileges,
		Cwd:             p.Cwd,
		Args:            p.Args,
		ApparmorProfile: p.ApparmorProfile,
		SelinuxLabel:    p.SelinuxLabel,
	}
	if terminal {
		plan.ConsoleFd = 3 + preserveFds + 2
		if b := p.ConsoleSize; b != nil {
			plan.ConsoleSize = &[2]uint16{uint16(b.Height), uint16(b.Width)}
		}
	}
	if l.Personality != nil {
		persona, err := procattr.Persona(l.Personality)
		if err != nil {
			return nil, err
		}
		plan.Personality = &persona
	}
	if l.MemoryPolicy != nil {
		mode, mask, maxNode, err := procattr.MemoryPolicyArgs(l.MemoryPolicy)
		if err != nil {
			return nil, err
		}
		plan.MemoryPolicy = &nsenter.MemoryPolicy{Mode: int32(mode), Nodes: mask, MaxNode: uint64(maxNode)}
	}
	for _, rl := range p.Rlimits {
		res, ok := rlimitTypes[rl.Type]
		if !ok {
			return nil, fmt.Errorf("process.rlimits: unknown type %q", rl.Type)
		}
		plan.Rlimits = append(plan.Rlimits, nsenter.Rlimit{Resource: res, Soft: rl.Soft, Hard: rl.Hard})
	}

	eu, err := lookupUserIn(root, p.User)
	if err != nil {
		return nil, err
	}
	for _, g := range eu.Sgids {
		plan.Groups = append(plan.Groups, uint32(g))
	}
	plan.Groups = append(plan.Groups, p.User.AdditionalGids...)
	plan.Env = p.Env
	if !hasEnv(plan.Env, "HOME") {
		plan.Env = append(append([]string{}, plan.Env...), "HOME="+eu.Home)
	}
	if plan.Path, err = lookPathIn(root, p.Args[0], p.Cwd, plan.Env); err != nil {
		return nil, fmt.Errorf("process.args[0]: %w", err)
	}

	plan.Bounding, plan.Effective, plan.Permitted, plan.Inheritable, plan.Ambient, plan.CapLast, err = caps.Masks()
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// setExecAttrs sets on the exec'd process pid what the kernel lets kan
// set from outside: it has not executed anything yet, and gets these
// before it drops its capabilities.
func setExecAttrs(pid int, p *specs.Process) error {
	if p.OOMScoreAdj != nil {
		// kan's /proc is the host's: no container can have shaped it.
		path := fmt.Sprintf("/proc/%d/oom_score_adj", pid)
		if err := os.WriteFile(path, []byte(fmt.Sprint(*p.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}
	if err := procattr.Scheduler(pid, p.Scheduler); err != nil {
		return err
	}
	if err := procattr.IOPriority(pid, p.IOPriority); err != nil {
		return err
	}
	if a := p.ExecCPUAffinity; a != nil {
		if err := procattr.CPUAffinity(pid, "process.execCPUAffinity.final", a.Final); err != nil {
			return err
		}
	}
	return nil
}

// lookupUserIn finds the user's home and supplementary groups in the
// container's /etc/passwd and /etc/group, as lookupUser does from inside.
func lookupUserIn(root *os.File, u specs.User) (*user.ExecUser, error) {
	defaults := &user.ExecUser{Uid: int(u.UID), Gid: int(u.GID), Home: "/"}
	passwd := openEtcFile(root, "/etc/passwd")
	if passwd != nil {
		defer passwd.Close()
	}
	group := openEtcFile(root, "/etc/group")
	if group != nil {
		defer group.Close()
	}
	// Readers, not files: a nil *os.File in an io.Reader is not nil.
	var passwdR, groupR io.Reader
	if passwd != nil {
		passwdR = io.LimitReader(passwd, maxEtcFile)
	}
	if group != nil {
		groupR = io.LimitReader(group, maxEtcFile)
	}
	eu, err := user.GetExecUser(fmt.Sprintf("%d:%d", u.UID, u.GID), defaults, passwdR, groupR)
	if err != nil {
		return nil, fmt.Errorf("process.user: %w", err)
	}
	return eu, nil
}

// maxEtcFile bounds what kan reads of a container's /etc/passwd or
// /etc/group: the container writes them, kan parses them.
const maxEtcFile = 64 << 20

// openEtcFile opens name in the container for reading, or returns nil
// when it cannot be opened or is not a regular file (a fifo would block
// kan, a device never end): such a file counts as empty, as an unreadable
// one does for lookupUser inside.
func openEtcFile(root *os.File, name string) *os.File {
	f, err := rootfs.OpenInRoot(root, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil
	}
	return f
}

// lookPathIn finds the program the way lookPath does from inside: with
// the container's PATH, relative names from the working directory cwd.
func lookPathIn(root *os.File, name, cwd string, env []string) (string, error) {
	return searchPath(name, env, func(p string) error { return checkExecutableIn(root, p, cwd) })
}

func checkExecutableIn(root *os.File, p, cwd string) error {
	full := p
	if !filepath.IsAbs(p) {
		full = filepath.Join(cwd, p)
	}
	f, err := rootfs.OpenInRoot(root, full, unix.O_PATH)
	if err != nil {
		return fmt.Errorf("executable %s: %w", p, errors.Unwrap(err))
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("executable %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR || st.Mode&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}
