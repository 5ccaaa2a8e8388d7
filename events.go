package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/state"
)

// event is one line of `kan events`, as runc writes it.
type event struct {
	Type string         `json:"type"`
	ID   string         `json:"id"`
	Data *cgroups.Stats `json:"data,omitempty"`
}

// oomPoll is how often the stream checks for OOM kills and for the
// container's end, independently of --interval.
const oomPoll = 200 * time.Millisecond

func eventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print resource usage (and OOM kills) of a container as JSON lines",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between two stats events"},
			&cli.BoolFlag{Name: "stats", Usage: "print the stats once and exit"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			id, err := containerID(cmd)
			if err != nil {
				return err
			}
			root := cmd.Root().String("root")
			st, err := liveState(root, id)
			if err != nil {
				return err
			}
			if st.CgroupPath == "" {
				return fmt.Errorf("events %s: the container has no cgroup to read: kan ran it rootless, where no cgroup was delegated to the user", id)
			}
			out := json.NewEncoder(os.Stdout)
			stats := func() error {
				s, err := cgroups.ReadStats(st.CgroupPath)
				if err != nil {
					return err
				}
				return out.Encode(event{Type: "stats", ID: id, Data: s})
			}
			if cmd.Bool("stats") {
				return stats()
			}
			interval := cmd.Duration("interval")
			if interval <= 0 {
				return fmt.Errorf("--interval: %v is not a positive duration", interval)
			}
			return streamEvents(ctx, root, id, st.CgroupPath, interval, stats, func() error {
				return out.Encode(event{Type: "oom", ID: id})
			})
		},
	}
}

// liveState reads the state of a container that has processes.
func liveState(root, id string) (*state.State, error) {
	st, err := state.Read(root, id)
	if err != nil {
		return nil, err
	}
	if s := libcontainer.StatusOf(root, st); s == libcontainer.Stopped || s == libcontainer.Creating {
		return nil, fmt.Errorf("container %s is not running (status %s)", id, s)
	}
	return st, nil
}

// streamEvents calls stats every interval and oom for every new OOM kill
// in the cgroup, until the container stops.
func streamEvents(ctx context.Context, root, id, cgroup string, interval time.Duration, stats, oom func() error) error {
	kills, _, err := cgroups.OOMKills(cgroup)
	if err != nil {
		return err
	}
	statsTick := time.NewTicker(interval)
	defer statsTick.Stop()
	poll := time.NewTicker(min(interval, oomPoll))
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-statsTick.C:
			if err := stats(); err != nil {
				if stopped(root, id) {
					return nil
				}
				return err
			}
		case <-poll.C:
			// Report kills before noticing the end: an OOM kill of
			// the init is often why the container stopped.
			n, _, err := cgroups.OOMKills(cgroup)
			if err == nil && n > kills {
				kills = n
				if err := oom(); err != nil {
					return err
				}
			}
			if stopped(root, id) {
				return nil
			}
		}
	}
}

func stopped(root, id string) bool {
	st, err := state.Read(root, id)
	if errors.Is(err, state.ErrNotExist) {
		return true
	}
	return err == nil && libcontainer.StatusOf(root, st) == libcontainer.Stopped
}
