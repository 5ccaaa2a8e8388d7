// Command kan is an OCI container runtime: it turns a bundle (config.json
// and a root filesystem) into an isolated Linux process, with the command
// line of runc so that engines can use either.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
	"github.com/kan-runtime/kan/libcontainer/rootless"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

func init() {
	// Locked in init, the main goroutine stays on the main thread, and
	// no other goroutine ever runs there. `kan init` sets per-thread
	// state (its name, capabilities) that must be the process's own; and
	// create builds a rootfs from a thread that enters the container's
	// namespaces and ends with its goroutine (libcontainer/outside.go),
	// which must not be the main one: /proc/self follows the main thread
	// (the thread-group leader), and Go would only park it, in the
	// container.
	runtime.LockOSThread()
}

func main() {
	// `kan init` is the container's first process, started by kan itself.
	// It needs none of the CLI, and every instruction counts here.
	if len(os.Args) == 2 && os.Args[1] == "init" {
		libcontainer.Init()
		return
	}
	var reached unix.Timespec
	t0 := os.Getenv("KAN_BENCH_T0")
	if t0 != "" {
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &reached)
	}
	startEarly()
	if t0 != "" {
		reportStart(t0, reached) // after startEarly: it may write to stderr
	}
	os.Exit(run(os.Args))
}

// reportStart tells, on stderr, how long after t0 (CLOCK_MONOTONIC, in
// ns, which make bench puts in KAN_BENCH_T0 just before it starts kan)
// kan reached main (reached): what the Go runtime's start and the
// package inits cost (tests/bench).
func reportStart(t0 string, reached unix.Timespec) {
	start, err := strconv.ParseInt(t0, 10, 64)
	if err != nil {
		return
	}
	fmt.Fprintf(os.Stderr, "kan: main %d µs after KAN_BENCH_T0\n", (reached.Nano()-start)/1000)
}

// commandName returns the command the command line (without argv[0])
// names, as nsenter's constructor reads it.
func commandName(args []string) string {
	name, _ := nsenter.CommandLine(args)
	return name
}

// commands are built on demand: building every command's flags and help
// is most of what urfave/cli costs a kan process, and a command needs
// only its own. names are each command's name and aliases, as its
// constructor sets them (TestCommandNames checks).
var commands = []struct {
	names []string
	build func() *cli.Command
}{
	{[]string{"create"}, createCommand},
	{[]string{"start"}, startCommand},
	{[]string{"run"}, runCommand},
	{[]string{"state"}, stateCommand},
	{[]string{"kill"}, killCommand},
	{[]string{"delete", "rm"}, deleteCommand},
	{[]string{"list", "ls"}, listCommand},
	{[]string{"spec"}, specCommand},
	{[]string{"features"}, featuresCommand},
	{[]string{"exec"}, execCommand},
	{[]string{"pause"}, pauseCommand},
	{[]string{"resume"}, resumeCommand},
	{[]string{"update"}, updateCommand},
	{[]string{"events"}, eventsCommand},
	{[]string{"ps"}, psCommand},
	{[]string{"checkpoint"}, checkpointCommand},
	{[]string{"restore"}, restoreCommand},
}

// buildCommands returns the command name names, or every command when
// name is none of them (help, no command, or an unknown one, for which
// cli suggests the nearest).
func buildCommands(name string) []*cli.Command {
	for _, c := range commands {
		if slices.Contains(c.names, name) {
			return []*cli.Command{c.build()}
		}
	}
	all := make([]*cli.Command, len(commands))
	for i, c := range commands {
		all[i] = c.build()
	}
	return all
}

// exitError carries an exit status without a message: `kan run` exits
// with the container's own status.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// codedError is an error that kan exits with code for, not 1: exec's
// failures to start the process exit 255, as runc's do, so that a caller
// tells them from a process that exited 1.
type codedError struct {
	err  error
	code int
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }
func (e *codedError) ExitCode() int { return e.code }

func run(args []string) int {
	app := newApp(buildCommands(commandName(args[1:])))
	err := app.Run(context.Background(), args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// A usage error (an unknown flag or command) comes before the
	// commands' Before: the log is set up here, from the global flags
	// parsed so far, so that an engine reading only --log sees it too.
	if !logReady {
		if setupLog(app) != nil {
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{ReplaceAttr: runcStyleLevel})))
			logToStderr = true
		}
	}
	slog.Error(err.Error())
	if !logToStderr {
		fmt.Fprintln(os.Stderr, "kan:", err)
	}
	// cli's own errors carry a code too (3 for an unknown command, as
	// with runc).
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// logToStderr tells whether the log already goes to stderr, so that an
// error is not printed twice; logReady whether the log is set up. They
// are the CLI's only global state.
var (
	logToStderr = true
	logReady    = false
)

// defaultRoot is where state lives without --root: /run/kan, or for a
// user other than root $XDG_RUNTIME_DIR/kan, as runc's default is
// $XDG_RUNTIME_DIR/runc (a user cannot write /run). Root of a user
// namespace — rootless Podman runs its runtime so, without --root — is
// such a user too unless $USER says root, as runc decides.
func defaultRoot() string {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return "/run/kan"
	}
	if os.Geteuid() != 0 {
		return dir + "/kan"
	}
	if user, ok := os.LookupEnv("USER"); rootless.InUserNS() && (!ok || user != "root") {
		return dir + "/kan"
	}
	return "/run/kan"
}

func newApp(cmds []*cli.Command) *cli.Command {
	cli.VersionPrinter = func(cmd *cli.Command) {
		fmt.Printf("kan version %s\ncommit: %s\nspec: %s\ngo: %s\n", version, commit, specs.Version, runtime.Version())
	}
	return &cli.Command{
		Name:    "kan",
		Usage:   "run containers from OCI bundles (a runc-compatible runtime)",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "directory for the state of containers"},
			&cli.StringFlag{Name: "log", Usage: "write the log to this file (default: stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "create the container's cgroup as a transient systemd scope (cgroupsPath \"slice:prefix:name\"); later commands find the driver in the state"},
			&cli.StringFlag{Name: "criu", Hidden: true, Usage: "accepted and ignored, as by runc: criu is looked up in PATH"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "rootless mode: true, false or auto (rootless when not root, or root of a user namespace): no device filter, a delegated cgroup or none"},
		},
		Before:  setupGlobal,
		Suggest: true,
		// Errors are reported, and exit codes chosen, by run (below),
		// once the log is set up; not by cli, which would exit first.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Commands:       cmds,
	}
}

// setupGlobal configures logging and rejects what kan cannot do.
func setupGlobal(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	if err := setupLog(cmd); err != nil {
		return ctx, err
	}
	if _, err := parseBoolOrAuto(cmd.String("rootless")); err != nil {
		return ctx, fmt.Errorf("--rootless: %w", err)
	}
	return ctx, nil
}

// setupLog sends the log to --log (or stderr) in --log-format, at level
// debug with --debug.
func setupLog(cmd *cli.Command) error {
	var out io.Writer = os.Stderr
	if path := cmd.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("--log %s: %w", path, err)
		}
		out = f
	}
	level := slog.LevelInfo
	if cmd.Bool("debug") {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: runcStyleLevel}
	switch format := cmd.String("log-format"); format {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(out, opts)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(out, opts)))
	default:
		return fmt.Errorf("--log-format: unknown format %q (want text or json)", format)
	}
	logToStderr = out == os.Stderr
	logReady = true
	return nil
}

// rootlessMode resolves --rootless (package rootless): the global flag
// was checked by setupGlobal.
func rootlessMode(cmd *cli.Command) bool {
	b, _ := parseBoolOrAuto(cmd.Root().String("rootless"))
	return rootless.Is(b)
}

// parseBoolOrAuto reads --rootless as runc does: "auto" (or nothing) is
// nil, anything strconv.ParseBool takes is its value.
func parseBoolOrAuto(s string) (*bool, error) {
	if s == "" || strings.EqualFold(s, "auto") {
		return nil, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not true, false or auto", s)
	}
	return &b, nil
}

// runcStyleLevel writes levels in lower case ("error", "warning"), as runc
// does: containerd shows users the last log line whose level is "error".
func runcStyleLevel(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey && len(groups) == 0 {
		lvl := strings.ToLower(a.Value.String())
		if lvl == "warn" {
			lvl = "warning"
		}
		return slog.String(slog.LevelKey, lvl)
	}
	return a
}
