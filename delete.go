package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/state"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Aliases:   []string{"rm"},
		Usage:     "delete a container: its processes, cgroup and state",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill a running container first; no error if it does not exist"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			id, err := containerID(cmd)
			if err != nil {
				return err
			}
			c, err := libcontainer.Open(cmd.Root().String("root"), id)
			if err != nil {
				if cmd.Bool("force") && errors.Is(err, state.ErrNotExist) {
					// Also what creates of this or any id killed
					// before their state dir had its name left.
					state.SweepTemp(cmd.Root().String("root"))
					return nil // engines delete --force what may be gone already
				}
				return err
			}
			return c.Delete(cmd.Bool("force"))
		},
	}
}
