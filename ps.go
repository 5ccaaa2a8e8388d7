package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/state"
)

func psCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "list the processes of a container",
		ArgsUsage: "<container-id> [ps options]",
		// Everything after the container id belongs to ps(1), "-ef" included.
		StopOnNthArg: new(1),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table (the output of ps) or json (the pids)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() < 1 {
				return errors.New("ps: expected a container id")
			}
			root, id := cmd.Root().String("root"), cmd.Args().First()
			st, err := state.Read(root, id)
			if err != nil {
				return err
			}
			status := libcontainer.StatusOf(root, st)
			if status == libcontainer.Creating {
				return fmt.Errorf("container %s is not running (status %s)", id, status)
			}
			// A stopped container lists what is left in its cgroup, most
			// often nothing: runc prints the header alone and succeeds.
			pids, err := libcontainer.Pids(st)
			if err != nil && !(status == libcontainer.Stopped && errors.Is(err, fs.ErrNotExist)) {
				return err
			}
			switch f := cmd.String("format"); f {
			case "json":
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(os.Stdout).Encode(pids)
			case "table":
				args := cmd.Args().Slice()[1:]
				if len(args) == 0 {
					args = []string{"-ef"}
				}
				return psTable(args, pids)
			default:
				return fmt.Errorf("--format: unknown format %q (want table or json)", f)
			}
		},
	}
}

// psTable runs the host's ps with args and prints its header and the lines
// of the container's processes, found by the PID column.
func psTable(args []string, pids []int) error {
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("ps %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(ee.Stderr))
		}
		return fmt.Errorf("ps: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		return fmt.Errorf("ps %s: the output has no PID column: %q", strings.Join(args, " "), lines[0])
	}
	fmt.Println(lines[0])
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= col {
			continue
		}
		pid, err := strconv.Atoi(fields[col])
		if err != nil {
			return fmt.Errorf("ps: PID column of %q: %w", line, err)
		}
		if slices.Contains(pids, pid) {
			fmt.Println(line)
		}
	}
	return nil
}
