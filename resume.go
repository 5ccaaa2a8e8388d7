package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

func resumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "resume the processes of a paused container",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return onContainer(cmd, (*libcontainer.Container).Resume)
		},
	}
}
