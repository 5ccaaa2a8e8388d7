package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer/state"
)

func listCommand() *cli.Command {
	return &cli.Command{
		Name:    "list",
		Aliases: []string{"ls"},
		Usage:   "list the containers under --root",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the ids"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			root := cmd.Root().String("root")
			ids, err := state.List(root)
			if err != nil {
				return err
			}
			list := []*containerState{}
			for _, id := range ids {
				cs, err := readState(root, id)
				if err != nil {
					if errors.Is(err, state.ErrNotExist) {
						continue // deleted while we listed
					}
					return err
				}
				list = append(list, cs)
			}
			if cmd.Bool("quiet") {
				for _, cs := range list {
					fmt.Println(cs.ID)
				}
				return nil
			}
			switch f := cmd.String("format"); f {
			case "json":
				return json.NewEncoder(os.Stdout).Encode(list)
			case "table":
				w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
				fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, cs := range list {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", cs.ID, cs.Pid, cs.Status, cs.Bundle,
						cs.Created.Format(time.RFC3339Nano), cs.Owner)
				}
				return w.Flush()
			default:
				return fmt.Errorf("--format: unknown format %q (want table or json)", f)
			}
		},
	}
}
