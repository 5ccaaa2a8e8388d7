package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "print the runtime-spec features document: what this kan supports here",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			f := libcontainer.Features(map[string]string{
				"io.github.kan-runtime.kan.version": version,
				"io.github.kan-runtime.kan.commit":  commit,
			})
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(f)
		},
	}
}
