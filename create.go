package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/console"
	"github.com/kan-runtime/kan/libcontainer/state"
	"github.com/kan-runtime/kan/spec"
)

// createFlags are shared by create and run.
func createFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the bundle (default: the current directory)"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the container's init pid to this file"},
		&cli.StringFlag{Name: "console-socket", Usage: "unix socket to send the pty master to (for process.terminal)"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "use MS_MOVE and chroot instead of pivot_root (for roots such as an initramfs)"},
		&cli.BoolFlag{Name: "no-new-keyring", Usage: "keep the caller's session keyring instead of making one per container"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N more fds (3 to 3+N-1) to the container"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket to send a pidfd of the container's init to"},
	}
}

func createCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a container, stopped before its program starts",
		ArgsUsage: "<container-id>",
		Flags:     createFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			seal := libcontainer.SealExe(cmd.Root().String("root"))
			defer seal.Close()
			cfg, err := loadBundle(cmd)
			if err != nil {
				return err
			}
			c, err := createContainer(cmd, cfg, seal, nil, nil)
			if err != nil {
				return err
			}
			c.Close()
			return nil
		},
	}
}

// loadBundle reads the config of --bundle and makes kan's model of it,
// checked: the door of create, run and restore.
func loadBundle(cmd *cli.Command) (*config.Container, error) {
	dir := cmd.String("bundle")
	if dir == "" {
		dir = "."
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("--bundle: %w", err)
	}
	f, err := spec.Load(dir)
	if err != nil {
		return nil, err
	}
	// Socket activation: fds systemd passed to kan (3 and up) go on to
	// the container, before the --preserve-fds ones, and the program
	// (pid 1 in its namespace) is told about them, as runc does.
	if listen := listenFds(); listen > 0 && f.Spec.Process != nil {
		f.Spec.Process.Env = append(f.Spec.Process.Env, fmt.Sprintf("LISTEN_FDS=%d", listen), "LISTEN_PID=1")
		f.Raw = nil // no longer the config in force
	}
	return config.New(f, dir)
}

// onContainer opens the container named by the command's one argument,
// locked, and runs do on it: start, pause and resume are just that.
func onContainer(cmd *cli.Command, do func(*libcontainer.Container) error) error {
	id, err := containerID(cmd)
	if err != nil {
		return err
	}
	c, err := libcontainer.Open(cmd.Root().String("root"), id)
	if err != nil {
		return err
	}
	defer c.Close()
	return do(c)
}

// containerID returns the single container id argument.
func containerID(cmd *cli.Command) (string, error) {
	if cmd.NArg() != 1 {
		return "", fmt.Errorf("%s: expected exactly one container id, got %d arguments", cmd.Name, cmd.NArg())
	}
	id := cmd.Args().First()
	if err := state.ValidateID(id); err != nil {
		return "", err
	}
	return id, nil
}

// createContainer is create's work, shared with run: read the bundle, make
// the container, write the pid file. It returns the container locked.
// consoleSock, when not nil, receives the terminal instead of
// --console-socket (run uses it to attach the caller's terminal);
// beforeStart, when not nil, runs just before the container's init starts.
func createContainer(cmd *cli.Command, cfg *config.Container, seal *libcontainer.ExeSeal, consoleSock *os.File, beforeStart func()) (*libcontainer.Container, error) {
	o, pidFile, done, err := createOptions(cmd, cfg, consoleSock)
	if err != nil {
		return nil, err
	}
	defer done()
	o.BeforeStart, o.Exe = beforeStart, seal
	c, err := libcontainer.Create(o)
	if err != nil {
		return nil, err
	}
	if err := writePidFile(c, pidFile); err != nil {
		return nil, err
	}
	return c, nil
}

// createOptions turns the flags of create (or run, or restore) and the
// model of the bundle's config into libcontainer's options, with the absolute --pid-file. done
// closes the sockets dialled, once the container is made.
func createOptions(cmd *cli.Command, cfg *config.Container, consoleSock *os.File) (o libcontainer.CreateOptions, pidFile string, done func(), err error) {
	var opened []*os.File
	done = func() {
		for _, f := range opened {
			f.Close()
		}
	}
	fail := func(err error) (libcontainer.CreateOptions, string, func(), error) {
		done()
		return libcontainer.CreateOptions{}, "", nil, err
	}
	id, err := containerID(cmd)
	if err != nil {
		return fail(err)
	}
	n := cmd.Int("preserve-fds")
	if n < 0 {
		return fail(fmt.Errorf("--preserve-fds: %d is negative", n))
	}
	n += listenFds() // socket activation's fds come first (loadBundle)
	if sock := cmd.String("console-socket"); sock != "" {
		if !cfg.Process.Terminal {
			return fail(errors.New("--console-socket: the config does not ask for a terminal (process.terminal is false)"))
		}
		if consoleSock, err = console.Dial(sock); err != nil {
			return fail(err)
		}
		opened = append(opened, consoleSock)
	}
	var pidfdSock *os.File
	if sock := cmd.String("pidfd-socket"); sock != "" {
		if pidfdSock, err = console.DialFor("--pidfd-socket", sock); err != nil {
			return fail(err)
		}
		opened = append(opened, pidfdSock)
	}
	pidFile = cmd.String("pid-file")
	if pidFile != "" {
		if pidFile, err = filepath.Abs(pidFile); err != nil {
			return fail(fmt.Errorf("--pid-file: %w", err))
		}
		if fi, err := os.Stat(filepath.Dir(pidFile)); err != nil || !fi.IsDir() {
			return fail(fmt.Errorf("--pid-file %s: directory %s does not exist", pidFile, filepath.Dir(pidFile)))
		}
	}
	return libcontainer.CreateOptions{
		Root:          cmd.Root().String("root"),
		ID:            id,
		Config:        cfg,
		NoPivot:       cmd.Bool("no-pivot"),
		NoNewKeyring:  cmd.Bool("no-new-keyring"),
		PreserveFds:   n,
		ConsoleSocket: consoleSock,
		PidfdSocket:   pidfdSock,
		Rootless:      rootlessMode(cmd),
		SystemdCgroup: cmd.Root().Bool("systemd-cgroup"),
	}, pidFile, done, nil
}

// writePidFile writes the container's pid to pidFile, if set; a failure
// deletes the container.
func writePidFile(c *libcontainer.Container, pidFile string) error {
	if pidFile == "" {
		return nil
	}
	if err := state.WriteFileAtomic(pidFile, []byte(strconv.Itoa(c.State.Pid)), 0o644); err != nil {
		c.Delete(true)
		return fmt.Errorf("--pid-file: %w", err)
	}
	return nil
}

// listenFds returns how many fds systemd socket activation passed to this
// process (LISTEN_FDS, valid only with LISTEN_PID naming us).
func listenFds() int {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
