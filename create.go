package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
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

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container, stopped before its program starts",
	ArgsUsage: "<container-id>",
	Flags:     createFlags(),
	Action: func(ctx context.Context, cmd *cli.Command) error {
		b, err := loadBundle(cmd)
		if err != nil {
			return err
		}
		c, err := createContainer(cmd, b, nil, nil)
		if err != nil {
			return err
		}
		c.Close()
		return nil
	},
}

// bundleConfig is the bundle of --bundle and its config, read once.
type bundleConfig struct {
	dir  string // absolute
	spec *specs.Spec
	raw  []byte // config.json as read, decoded into spec
}

func loadBundle(cmd *cli.Command) (*bundleConfig, error) {
	dir := cmd.String("bundle")
	if dir == "" {
		dir = "."
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("--bundle: %w", err)
	}
	s, raw, err := spec.Load(dir)
	if err != nil {
		return nil, err
	}
	return &bundleConfig{dir: dir, spec: s, raw: raw}, nil
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
func createContainer(cmd *cli.Command, b *bundleConfig, consoleSock *os.File, beforeStart func()) (*libcontainer.Container, error) {
	id, err := containerID(cmd)
	if err != nil {
		return nil, err
	}
	bundle, s, raw := b.dir, b.spec, b.raw
	n := cmd.Int("preserve-fds")
	if n < 0 {
		return nil, fmt.Errorf("--preserve-fds: %d is negative", n)
	}
	// Socket activation: fds systemd passed to kan (3 and up) go on to
	// the container, before the --preserve-fds ones, and the program
	// (pid 1 in its namespace) is told about them, as runc does.
	if listen := listenFds(); listen > 0 {
		n += listen
		s.Process.Env = append(s.Process.Env, fmt.Sprintf("LISTEN_FDS=%d", listen), "LISTEN_PID=1")
		raw = nil // no longer the config in force
	}
	if sock := cmd.String("console-socket"); sock != "" {
		if !s.Process.Terminal {
			return nil, errors.New("--console-socket: the config does not ask for a terminal (process.terminal is false)")
		}
		if consoleSock, err = console.Dial(sock); err != nil {
			return nil, err
		}
		defer consoleSock.Close()
	}
	var pidfdSock *os.File
	if sock := cmd.String("pidfd-socket"); sock != "" {
		if pidfdSock, err = console.DialFor("--pidfd-socket", sock); err != nil {
			return nil, err
		}
		defer pidfdSock.Close()
	}
	pidFile := cmd.String("pid-file")
	if pidFile != "" {
		if pidFile, err = filepath.Abs(pidFile); err != nil {
			return nil, fmt.Errorf("--pid-file: %w", err)
		}
		if fi, err := os.Stat(filepath.Dir(pidFile)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("--pid-file %s: directory %s does not exist", pidFile, filepath.Dir(pidFile))
		}
	}
	c, err := libcontainer.Create(libcontainer.CreateOptions{
		Root:          cmd.Root().String("root"),
		ID:            id,
		Bundle:        bundle,
		Spec:          s,
		RawSpec:       raw,
		NoPivot:       cmd.Bool("no-pivot"),
		NoNewKeyring:  cmd.Bool("no-new-keyring"),
		PreserveFds:   n,
		ConsoleSocket: consoleSock,
		PidfdSocket:   pidfdSock,
		BeforeStart:   beforeStart,
		Rootless:      rootlessMode(cmd),
	})
	if err != nil {
		return nil, err
	}
	if pidFile != "" {
		if err := state.WriteFileAtomic(pidFile, []byte(strconv.Itoa(c.State.Pid)), 0o644); err != nil {
			c.Delete(true)
			return nil, fmt.Errorf("--pid-file: %w", err)
		}
	}
	return c, nil
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
