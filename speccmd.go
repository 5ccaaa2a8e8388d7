package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/spec"
)

func specCommand() *cli.Command {
	return &cli.Command{
		Name:  "spec",
		Usage: "write a default config.json into a bundle",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "bundle directory (default: the current directory)"},
			&cli.BoolFlag{Name: "rootless", Usage: "a config for a container run by an unprivileged user"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			bundle := cmd.String("bundle")
			if bundle == "" {
				bundle = "."
			}
			path := filepath.Join(bundle, "config.json")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s exists already: remove it first", path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			s := spec.Default(cmd.Bool("rootless"), uint32(os.Geteuid()), uint32(os.Getegid()))
			data, err := json.MarshalIndent(s, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(data, '\n'), 0o644)
		},
	}
}
