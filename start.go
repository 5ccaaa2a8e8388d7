package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

func startCommand() *cli.Command {
	return &cli.Command{
		Name:      "start",
		Usage:     "start the program of a created container",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return onContainer(cmd, (*libcontainer.Container).Start)
		},
	}
}
