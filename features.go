package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print the runtime-spec features document: what this kan supports here (rootless, with --rootless true or as an unprivileged user: what rootless mode supports)",
	Action: func(ctx context.Context, cmd *cli.Command) error {
		f := libcontainer.Features(map[string]string{
			"io.github.kan-runtime.kan.version": version,
			"io.github.kan-runtime.kan.commit":  commit,
		})
		libcontainer.RootlessFeatures(f, rootlessMode(cmd))
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(f)
	},
}
