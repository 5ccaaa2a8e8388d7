package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "suspend every process of a running container (cgroup freezer)",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return onContainer(cmd, (*libcontainer.Container).Pause)
		},
	}
}
