package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

func killCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal to a container's init (or with --all to all its processes)",
		ArgsUsage: "<container-id> [signal]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process of the container"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if n := cmd.NArg(); n < 1 || n > 2 {
				return fmt.Errorf("kill: expected a container id and an optional signal, got %d arguments", n)
			}
			id := cmd.Args().Get(0)
			sigName := "TERM"
			if cmd.NArg() == 2 {
				sigName = cmd.Args().Get(1)
			}
			sig, err := parseSignal(sigName)
			if err != nil {
				return err
			}
			c, err := libcontainer.Open(cmd.Root().String("root"), id)
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Signal(sig, cmd.Bool("all"))
		},
	}
}
