package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "make a container from a bundle and a checkpoint, with criu; wait for it and delete it unless --detach",
		ArgsUsage: "<container-id>",
		Flags: append(criuFlags(),
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the bundle (default: the current directory)"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the container is restored"},
			&cli.StringFlag{Name: "pid-file", Usage: "write the restored init's pid to this file"},
			&cli.StringFlag{Name: "console-socket", Usage: "unix socket to send the restored terminal's pty master to"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "do not reap the container's orphans (kan is otherwise their subreaper)"},
			&cli.BoolFlag{Name: "no-pivot", Usage: "accepted for runc compatibility (criu restores the root as it was)"},
			&cli.StringFlag{Name: "lsm-profile", Usage: "the LSM profile of the restored process (apparmor:NAME or selinux:LABEL)"},
			&cli.StringFlag{Name: "lsm-mount-context", Usage: "the SELinux context= of the restored mounts"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			detach := cmd.Bool("detach")
			sigs := catchSignals(detach)
			if !detach && !cmd.Bool("no-subreaper") {
				becomeSubreaper()
			}
			co, err := criuOptions(cmd)
			if err != nil {
				return err
			}
			cfg, err := loadBundle(cmd)
			if err != nil {
				return err
			}
			if cmd.String("console-socket") == "" && cfg.Process.Terminal && detach {
				return fmt.Errorf("restore --detach: process.terminal needs --console-socket")
			}
			term, sock, err := callerTerminal(cmd, cfg.Process.Terminal, detach)
			if err != nil {
				return err
			}
			defer term.close()
			o, pidFile, done, err := createOptions(cmd, cfg, sock)
			if err != nil {
				return err
			}
			sigs.wait()
			c, err := libcontainer.Restore(libcontainer.RestoreOptions{Create: o, Criu: co})
			done()
			if err != nil {
				return err
			}
			if err := writePidFile(c, pidFile); err != nil {
				return err
			}
			root, id, pid := cmd.Root().String("root"), c.State.ID, c.State.Pid
			if term != nil {
				if err := term.attach(); err != nil {
					c.Delete(true)
					return err
				}
			}
			c.Close()
			if detach {
				return nil
			}
			go sigs.forward(pid, term)
			code := waitExit(pid)
			if term != nil {
				term.drain()
			}
			if c, err := libcontainer.Open(root, id); err == nil {
				if err := c.Delete(true); err != nil {
					return err
				}
			}
			return &exitError{code: code}
		},
	}
}
