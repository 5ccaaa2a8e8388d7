package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
	"github.com/kan-runtime/kan/libcontainer/criu"
)

func featuresCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "print the runtime-spec features document: what this kan supports here (rootless, with --rootless true or as an unprivileged user: what rootless mode supports)",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			annotations := map[string]string{
				"io.github.kan-runtime.kan.version": version,
				"io.github.kan-runtime.kan.commit":  commit,
			}
			// As runc's org.opencontainers.runc.checkpoint.enabled:
			// checkpoint and restore work here only with criu installed.
			if _, err := criu.Find(); err == nil {
				annotations["io.github.kan-runtime.kan.checkpoint.enabled"] = "true"
			}
			f := libcontainer.Features(annotations)
			libcontainer.RootlessFeatures(f, rootlessMode(cmd))
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(f)
		},
	}
}
