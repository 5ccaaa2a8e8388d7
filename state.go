package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/state"
)

// containerState is the state as `kan state` and `kan list --format json`
// print it: the runtime-spec state plus runc's fields.
type containerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// readState reads a container's state without taking its lock, with the
// status derived from the live process.
func readState(root, id string) (*containerState, error) {
	st, err := state.Read(root, id)
	if err != nil {
		return nil, err
	}
	cs := &containerState{
		OCIVersion:  st.OCIVersion,
		ID:          st.ID,
		Pid:         st.Pid,
		Status:      libcontainer.StatusOf(root, st),
		Bundle:      st.Bundle,
		Rootfs:      st.Rootfs,
		Created:     st.Created,
		Owner:       st.Owner,
		Annotations: st.Annotations,
	}
	if cs.Status == libcontainer.Stopped {
		cs.Pid = 0 // the number may belong to another process by now
	}
	return cs, nil
}

var stateCommand = &cli.Command{
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
