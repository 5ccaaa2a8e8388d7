package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "create and start a container, wait for it and delete it",
		ArgsUsage: "<container-id>",
		Flags: append(createFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container has started"},
			&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "do not reap the container's orphans (kan is otherwise their subreaper)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			// Forward signals from the moment the container exists: they
			// are all caught before its init starts, so none is lost.
			sigs := catchSignals(cmd.Bool("detach"))
			if !cmd.Bool("detach") && !cmd.Bool("no-subreaper") {
				becomeSubreaper()
			}
			// kan's sealed executable is made while the config is read.
			seal := libcontainer.SealExe(cmd.Root().String("root"))
			defer seal.Close()

			cfg, err := loadBundle(cmd)
			if err != nil {
				return err
			}
			wantsTerminal := cfg.Process.Terminal
			term, sock, err := callerTerminal(cmd, wantsTerminal, cmd.Bool("detach"))
			if err != nil {
				return err
			}
			defer term.close()
			// Every signal is caught by the time the init starts.
			c, err := createContainer(cmd, cfg, seal, sock, sigs.wait)
			if err != nil {
				return err
			}
			root, id, pid := cmd.Root().String("root"), c.State.ID, c.State.Pid
			if term != nil {
				if err := term.attach(); err != nil {
					c.Delete(true)
					return err
				}
			} else if cmd.String("console-socket") == "" && wantsTerminal {
				c.Delete(true)
				return fmt.Errorf("run --detach: process.terminal needs --console-socket")
			}
			if err := c.Start(); err != nil {
				c.Delete(true)
				return err
			}
			c.Close() // let other commands see and signal it while it runs
			if cmd.Bool("detach") {
				return nil
			}
			go sigs.forward(pid, term)
			code := waitExit(pid)
			if term != nil {
				term.drain()
			}
			if !cmd.Bool("keep") {
				if c, err := libcontainer.Open(root, id); err == nil {
					if err := c.Delete(true); err != nil {
						return err
					}
				}
			}
			return &exitError{code: code}
		},
	}
}

// becomeSubreaper makes kan the reaper of the container's orphans, as
// runc run and exec are: without a pid namespace of its own, a process
// the container's program forks and abandons is reparented to kan (not to
// the host's init) and reaped by waitExit, instead of escaping kan's
// supervision.
func becomeSubreaper() {
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// waitExit waits for the process pid (kan's child: nsenter forks it with
// CLONE_PARENT) and returns its exit status, or 128+n for signal n. Any
// other child that exits meanwhile (an orphan kan inherited as subreaper)
// is reaped on the way.
func waitExit(pid int) int {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		if wpid != pid {
			continue // an orphan: reaped
		}
		switch {
		case ws.Exited():
			return ws.ExitStatus()
		case ws.Signaled():
			return 128 + int(ws.Signal())
		}
	}
}
