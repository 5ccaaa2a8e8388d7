package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/kan-runtime/kan/libcontainer"
)

// criuFlags are the flags checkpoint and restore share (runc's).
func criuFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "image-path", Usage: "directory of criu's image files (default: ./checkpoint)"},
		&cli.StringFlag{Name: "work-path", Usage: "directory for criu's work files and log (default: the image directory)"},
		&cli.BoolFlag{Name: "tcp-established", Usage: "allow open TCP connections"},
		&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
		&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs (a terminal from outside the container)"},
		&cli.BoolFlag{Name: "lazy-pages", Usage: "restore memory pages lazily, with userfaultfd"},
		&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks"},
		&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "how criu handles cgroups: soft, full, strict or ignore (default: soft)"},
		&cli.StringSliceFlag{Name: "empty-ns", Usage: "a namespace criu makes without restoring its contents (network; always, as with runc)"},
		&cli.BoolFlag{Name: "auto-dedup", Usage: "deduplicate memory images automatically"},
	}
}

func checkpointCommand() *cli.Command {
	return &cli.Command{
		Name:      "checkpoint",
		Usage:     "save a running container's processes with criu (and stop them, unless --leave-running)",
		ArgsUsage: "<container-id>",
		Flags: append(criuFlags(),
			&cli.StringFlag{Name: "parent-path", Usage: "the image directory of a previous pre-dump, relative to --image-path"},
			&cli.BoolFlag{Name: "leave-running", Usage: "leave the container running after the checkpoint"},
			&cli.BoolFlag{Name: "tcp-skip-in-flight", Usage: "skip in-flight TCP connections"},
			&cli.BoolFlag{Name: "link-remap", Usage: "allow criu to link-remap deleted files that are still open"},
			&cli.IntFlag{Name: "status-fd", Value: -1, Usage: "criu writes \\0 to this fd once lazy pages are ready"},
			&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of a criu page server to send memory to"},
			&cli.BoolFlag{Name: "pre-dump", Usage: "save the memory only, leaving the container running (then dump with --parent-path)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			o, err := criuOptions(cmd)
			if err != nil {
				return err
			}
			return onContainer(cmd, func(c *libcontainer.Container) error {
				return c.Checkpoint(o)
			})
		},
	}
}

// criuOptions reads the shared criu flags (and those of checkpoint that
// are set).
func criuOptions(cmd *cli.Command) (libcontainer.CriuOptions, error) {
	images := cmd.String("image-path")
	if images == "" {
		images = "checkpoint" // runc's default, in the working directory
	}
	images, err := filepath.Abs(images)
	if err != nil {
		return libcontainer.CriuOptions{}, fmt.Errorf("--image-path: %w", err)
	}
	work := cmd.String("work-path")
	if work != "" {
		if work, err = filepath.Abs(work); err != nil {
			return libcontainer.CriuOptions{}, fmt.Errorf("--work-path: %w", err)
		}
	}
	o := libcontainer.CriuOptions{
		ImagePath:      images,
		WorkPath:       work,
		TCPEstablished: cmd.Bool("tcp-established"),
		ExtUnixSk:      cmd.Bool("ext-unix-sk"),
		ShellJob:       cmd.Bool("shell-job"),
		LazyPages:      cmd.Bool("lazy-pages"),
		FileLocks:      cmd.Bool("file-locks"),
		CgroupsMode:    cmd.String("manage-cgroups-mode"),
		EmptyNs:        cmd.StringSlice("empty-ns"),
		AutoDedup:      cmd.Bool("auto-dedup"),
		StatusFd:       -1,
	}
	if cmd.Name == "checkpoint" {
		o.ParentPath = cmd.String("parent-path")
		o.LeaveRunning = cmd.Bool("leave-running")
		o.TCPSkipInFlight = cmd.Bool("tcp-skip-in-flight")
		o.LinkRemap = cmd.Bool("link-remap")
		o.StatusFd = int(cmd.Int("status-fd"))
		o.PageServer = cmd.String("page-server")
		o.PreDump = cmd.Bool("pre-dump")
	} else {
		o.LsmProfile = cmd.String("lsm-profile")
		o.LsmMountContext = cmd.String("lsm-mount-context")
	}
	return o, nil
}
