package main

import (
	"context"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "resume the processes of a paused container",
	ArgsUsage: "<container-id>",
	Action: func(ctx context.Context, cmd *cli.Command) error {
		id, err := containerID(cmd)
		if err != nil {
			return err
		}
		c, err := libcontainer.Open(cmd.Root().String("root"), id)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Resume()
	},
}
