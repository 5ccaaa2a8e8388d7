// Package hooks runs the OCI lifecycle hooks of a config: each hook is a
// program that gets the container's state JSON on stdin, with its own
// args, env and timeout. Where and when each kind runs is the caller's
// business (see libcontainer/container.go and init.go).
package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/nsenter"
)

// Run runs hooks in order and stops at the first that fails. kind names
// the hook list in errors ("createRuntime", ...).
func Run(kind string, hooks []specs.Hook, state []byte) error {
	for i, h := range hooks {
		debugHook(kind, i, h)
		if err := runOne(h, state); err != nil {
			return fmt.Errorf("hooks.%s[%d] (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// debugHook logs, with --debug, the hook about to run.
func debugHook(kind string, i int, h specs.Hook) {
	if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		slog.Debug("hook", "kind", kind, "index", i, "path", h.Path, "args", h.Args)
	}
}

// RunAll runs every hook even when some fail (as poststop hooks must) and
// returns the failures joined.
func RunAll(kind string, hooks []specs.Hook, state []byte) error {
	var errs []error
	for i, h := range hooks {
		debugHook(kind, i, h)
		if err := runOne(h, state); err != nil {
			errs = append(errs, fmt.Errorf("hooks.%s[%d] (%s): %w", kind, i, h.Path, err))
		}
	}
	return errors.Join(errs...)
}

func runOne(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = args
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // the spec's env, not kan's
	}
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that forks a daemon keeping our pipe open must not hang us.
	cmd.WaitDelay = time.Second
	if err := nsenter.Unheld(cmd); err != nil {
		return err
	}
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
