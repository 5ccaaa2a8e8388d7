package libcontainer

import (
	"context"
	"log/slog"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/config"
)

// --debug logs each step of create, start, exec and delete at level
// debug. Every debug site asks debugOn first, so that without --debug no
// message or attribute is built: a level check is all it costs.

// debugOn tells whether the log takes debug lines.
func debugOn() bool {
	return slog.Default().Enabled(context.Background(), slog.LevelDebug)
}

// namespaceList describes the namespaces of a config: "pid mount
// network=/proc/1/ns/net" (a joined one with its path).
func namespaceList(list []specs.LinuxNamespace) string {
	var b strings.Builder
	for i, ns := range list {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(ns.Type))
		if ns.Path != "" {
			b.WriteString("=" + ns.Path)
		}
	}
	return b.String()
}

// debugMounts logs the mounts of a config, in order, and who makes them.
func debugMounts(cfg *config.Container, by string) {
	slog.Debug("create: rootfs", "root", cfg.Rootfs, "readonly", cfg.Readonly, "mounts", len(cfg.Mounts), "builder", by)
	for i, m := range cfg.Mounts {
		slog.Debug("create: mount", "index", i, "destination", m.Destination, "type", m.Type, "source", m.Source, "options", strings.Join(m.Options, ","))
	}
}
