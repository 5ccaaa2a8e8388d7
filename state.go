package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/state"
)

// containerState is the state as `kan state` and `kan list --format json`
// print it.
type containerState = state.Public

// readState reads a container's state without taking its lock, with the
// status derived from the live process.
func readState(root, id string) (*containerState, error) {
	st, err := state.Read(root, id)
	if err != nil {
		return nil, err
	}
	cs := st.Public
	cs.Status = libcontainer.StatusOf(root, st)
	if cs.Status == libcontainer.Stopped {
		cs.Pid = 0 // the number may belong to another process by now
	}
	return &cs, nil
}

func stateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print the state of a container as JSON",
		ArgsUsage: "<container-id>",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			id, err := containerID(cmd)
			if err != nil {
				return err
			}
			cs, err := readState(cmd.Root().String("root"), id)
			if err != nil {
				return err
			}
			data, err := json.MarshalIndent(cs, "", "  ")
			if err != nil {
				return err
			}
			fmt.Println(string(data))
			return nil
		},
	}
}
