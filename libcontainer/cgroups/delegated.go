package cgroups

import (
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Delegated returns the topmost cgroup, on the way from the hierarchy
// mounted at mnt down to kan's own, that this process may manage: the
// directory and its cgroup.procs and cgroup.subtree_control writable by
// it. That is the subtree delegated to an unprivileged user (systemd's
// user@UID.service), where a rootless kan may make containers' cgroups.
// It returns "" when there is none.
//
// The containment rule of cgroup v2 makes this the right place: a process
// may be moved only between cgroups whose common ancestor's cgroup.procs
// its mover can write, so a container's cgroup must be in the same
// delegated subtree as kan itself.
func Delegated(mnt string) string {
	own, err := Own()
	if err != nil {
		return ""
	}
	dir := mnt
	for _, part := range strings.Split(strings.Trim(own, "/"), "/") {
		if part == "" {
			break
		}
		dir = filepath.Join(dir, part)
		if manageable(dir) {
			return dir
		}
	}
	return ""
}

func manageable(dir string) bool {
	return unix.Access(dir, unix.W_OK|unix.X_OK) == nil &&
		unix.Access(filepath.Join(dir, "cgroup.procs"), unix.W_OK) == nil &&
		unix.Access(filepath.Join(dir, "cgroup.subtree_control"), unix.W_OK) == nil
}

// Limits lists the fields of r that a cgroup must apply (their config
// names, each once): what a container without a cgroup of its own could
// not honour. Device rules are not among them (package devices).
func Limits(r *specs.LinuxResources) ([]string, error) {
	if r == nil {
		return nil, nil
	}
	settings, err := plan(r)
	if err != nil {
		return nil, err
	}
	var fields []string
	for _, s := range settings {
		if !slices.Contains(fields, s.field) {
			fields = append(fields, s.field)
		}
	}
	return fields, nil
}
