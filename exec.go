package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/console"
	"github.com/kan-runtime/kan/libcontainer/state"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a new process in a running container",
		ArgsUsage: "<container-id> [command [args...]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "read the process from this runtime-spec process JSON file"},
			&cli.StringFlag{Name: "console-socket", Usage: "unix socket to send the pty master to (with a terminal)"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "give the process a terminal"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the process runs"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the process's pid to this file"},
			&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable NAME=value (repeatable)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "run as uid[:gid]"},
			&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "add a supplementary group id (repeatable)"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (repeatable)"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process"},
			&cli.StringFlag{Name: "process-label", Usage: "SELinux label of the process"},
			&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile of the process"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass N more fds (3 to 3+N-1) to the process"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run in this sub-cgroup of the container's cgroup: [ctrl[,ctrl]:]path (repeatable; cgroup v2 has one path for all)"},
			&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket to send a pidfd of the process to"},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "exec even if the container is paused"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "do not reap the process's orphans (kan is otherwise their subreaper)"},
		},
		// Everything after the container id is the command and its own flags.
		StopOnNthArg: ptr(1),
		// A repeatable flag's value is taken whole, as runc takes it: commas
		// belong to --env values and to --cgroup's controller lists.
		DisableSliceFlagSeparator: true,
		Action:                    execAction,
	}
}

func ptr[T any](v T) *T { return &v }

func execAction(ctx context.Context, cmd *cli.Command) error {
	if cmd.NArg() < 1 {
		return errors.New("exec: expected a container id")
	}
	err := execIn(cmd)
	var ee *exitError
	if err != nil && !errors.As(err, &ee) {
		// runc exits 255 when it cannot start the process, so that a
		// caller tells that from a process that exited 1.
		return &codedError{err: err, code: 255}
	}
	return err
}

// execIn is exec's work once the command line holds a container id.
func execIn(cmd *cli.Command) error {
	id := cmd.Args().First()
	if err := state.ValidateID(id); err != nil {
		return err
	}
	n := cmd.Int("preserve-fds")
	if n < 0 {
		return fmt.Errorf("--preserve-fds: %d is negative", n)
	}
	pidFile := cmd.String("pid-file")
	if pidFile != "" {
		var err error
		if pidFile, err = filepath.Abs(pidFile); err != nil {
			return fmt.Errorf("--pid-file: %w", err)
		}
	}
	subCgroup, err := subCgroupPath(cmd.StringSlice("cgroup"))
	if err != nil {
		return err
	}
	// Signals are forwarded from the start, so that none is lost.
	sigs := catchSignals(cmd.Bool("detach"))
	if !cmd.Bool("detach") && !cmd.Bool("no-subreaper") {
		becomeSubreaper()
	}
	// kan's sealed executable is made while the state and config are read.
	seal := libcontainer.SealExe(cmd.Root().String("root"))
	defer seal.Close()

	var pidfdSock *os.File
	if path := cmd.String("pidfd-socket"); path != "" {
		if pidfdSock, err = console.DialFor("--pidfd-socket", path); err != nil {
			return err
		}
		defer pidfdSock.Close()
	}

	c, err := libcontainer.Open(cmd.Root().String("root"), id)
	if err != nil {
		return err
	}
	defer c.Close()
	base, err := c.Process()
	if err != nil {
		return err
	}
	p, err := execProcess(cmd, base)
	if err != nil {
		return err
	}
	proc, err := c.NewProcess(p)
	if err != nil {
		return err
	}
	detach := cmd.Bool("detach")
	var term *terminal
	var sock *os.File
	switch {
	case !p.Terminal:
		if cmd.String("console-socket") != "" {
			return errors.New("--console-socket: the process has no terminal (use --tty)")
		}
	case cmd.String("console-socket") != "":
		if sock, err = console.Dial(cmd.String("console-socket")); err != nil {
			return err
		}
		defer sock.Close()
	case detach:
		return errors.New("exec --detach with a terminal needs --console-socket")
	default:
		if term, err = newTerminal(); err != nil {
			return err
		}
		defer term.close()
		sock = term.theirs
	}
	pid, err := c.Exec(libcontainer.ExecOptions{
		Process:       proc,
		ConsoleSocket: sock,
		PreserveFds:   n,
		PidfdSocket:   pidfdSock,
		SubCgroup:     subCgroup,
		IgnorePaused:  cmd.Bool("ignore-paused"),
		BeforeStart:   sigs.wait, // every signal is caught once the process exists
		Exe:           seal,
	})
	if err != nil {
		return err
	}
	c.Close() // the lock is not needed while the process runs
	if pidFile != "" {
		if err := state.WriteFileAtomic(pidFile, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("--pid-file: %w", err)
		}
	}
	if term != nil {
		if err := term.attach(); err != nil {
			return err
		}
	}
	if detach {
		return nil
	}
	go sigs.forward(pid, term)
	code := waitExit(pid)
	if term != nil {
		term.drain()
	}
	return &exitError{code: code}
}

// subCgroupPath reads the --cgroup arguments as runc does, each
// [ctrl[,ctrl]:]path, a path without controllers only alone, and returns
// the one sub-cgroup they name: cgroup v2 has a single hierarchy, so the
// controllers named must all be given the same path ("" for none).
func subCgroupPath(args []string) (string, error) {
	paths := map[string]string{} // controller to path
	for _, arg := range args {
		ctrls, path, ok := strings.Cut(arg, ":")
		if !ok {
			if len(args) != 1 {
				return "", fmt.Errorf("--cgroup %s: a path without <controller>: prefix must be the only --cgroup", arg)
			}
			return arg, nil
		}
		for _, ctrl := range strings.Split(ctrls, ",") {
			if ctrl == "" {
				return "", fmt.Errorf("--cgroup %s: empty <controller> prefix", arg)
			}
			if _, dup := paths[ctrl]; dup {
				return "", fmt.Errorf("--cgroup %s: controller %s given more than once", arg, ctrl)
			}
			paths[ctrl] = path
		}
	}
	sub := ""
	for _, arg := range args {
		_, path, _ := strings.Cut(arg, ":")
		if sub != "" && path != sub {
			return "", fmt.Errorf("--cgroup %s: cgroup v2 has one hierarchy, so every controller must be given the same path (not %s and %s)", strings.Join(args, " "), sub, path)
		}
		sub = path
	}
	return sub, nil
}

// execProcess builds the process to run: from --process, or from the
// container's own process with the command line and flags over it, as
// runc exec does.
func execProcess(cmd *cli.Command, base *specs.Process) (*specs.Process, error) {
	var p specs.Process
	if path := cmd.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("--process %s: %w", path, err)
		}
		if len(p.Args) == 0 {
			return nil, fmt.Errorf("--process %s: args: empty", path)
		}
		if p.Cwd == "" {
			p.Cwd = "/"
		}
		return &p, nil
	}
	if cmd.NArg() < 2 {
		return nil, errors.New("exec: expected a command after the container id (or --process)")
	}
	if base != nil {
		p = *base
	}
	p.Args = cmd.Args().Slice()[1:]
	p.Terminal = cmd.Bool("tty")
	p.ConsoleSize = nil
	for _, kv := range cmd.StringSlice("env") {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("--env %q: not of the form NAME=value", kv)
		}
		name, _, _ := strings.Cut(kv, "=")
		p.Env = slices.DeleteFunc(slices.Clone(p.Env), func(e string) bool { return strings.HasPrefix(e, name+"=") })
		p.Env = append(p.Env, kv)
	}
	if cwd := cmd.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := cmd.String("user"); u != "" {
		uidStr, gidStr, hasGid := strings.Cut(u, ":")
		uid, err := strconv.ParseUint(uidStr, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: uid must be a number", u)
		}
		p.User.UID, p.User.GID = uint32(uid), 0
		if hasGid {
			gid, err := strconv.ParseUint(gidStr, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: gid must be a number", u)
			}
			p.User.GID = uint32(gid)
		}
	}
	for _, g := range cmd.StringSlice("additional-gids") {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--additional-gids %q: not a number", g)
		}
		p.User.AdditionalGids = append(slices.Clone(p.User.AdditionalGids), uint32(gid))
	}
	if caps := cmd.StringSlice("cap"); len(caps) > 0 {
		c := &specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			*c = *p.Capabilities
		}
		for _, name := range caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			// Not inheritable or ambient: a capability given to exec
			// must not pass through to programs it executes in turn
			// (CVE-2022-29162).
			c.Bounding = append(slices.Clone(c.Bounding), name)
			c.Effective = append(slices.Clone(c.Effective), name)
			c.Permitted = append(slices.Clone(c.Permitted), name)
		}
		p.Capabilities = c
	}
	if cmd.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if l := cmd.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if a := cmd.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	return &p, nil
}
