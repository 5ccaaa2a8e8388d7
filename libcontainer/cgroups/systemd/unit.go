// Package systemd is kan's systemd cgroup driver (--systemd-cgroup): the
// container's cgroup is a transient unit of systemd, a scope with
// Delegate=yes, which kan asks systemd for over D-Bus (go-systemd's dbus
// package, as runc does). This file reads linux.cgroupsPath as runc does
// ("slice:prefix:name"); properties.go turns linux.resources into the
// unit's properties; dbus.go talks to systemd.
package systemd

import (
	"fmt"
	"path/filepath"
	"strings"
)

// DefaultSlice and DefaultPrefix make the unit of a container whose
// linux.cgroupsPath is empty: kan-<id>.scope in system.slice, the shape of
// runc's default (runc-<id>.scope in system.slice) with kan's name, as the
// cgroupfs default is /kan/<id>.
// A rootless kan's default slice is user.slice of the user's own
// instance, as runc's.
const (
	DefaultSlice     = "system.slice"
	DefaultUserSlice = "user.slice"
	DefaultPrefix    = "kan"
)

// Unit is the systemd unit that holds a container: Name in the slice
// Slice.
type Unit struct {
	Slice string // e.g. kubepods-burstable-pod1234.slice
	Name  string // e.g. cri-containerd-<id>.scope, or a .slice
	// Manager is the cgroup of the systemd instance the unit is in,
	// under which its slices are: "" for the system's, the user's
	// user@UID.service for a rootless kan's (Conn.ControlGroup).
	Manager string
}

// IsSlice tells a unit that is a slice: it holds no processes of its own
// making, and is started without any.
func (u Unit) IsSlice() bool { return strings.HasSuffix(u.Name, ".slice") }

// ParsePath reads linux.cgroupsPath in runc's systemd form
// "slice:prefix:name": the unit is prefix-name.scope in slice (slice
// empty: system.slice, or user.slice of the user's instance for a user's
// unit), or name itself when it ends in .slice or .scope (prefix unused
// then). An empty path is ":kan:<id>".
func ParsePath(cgroupsPath, id string, user bool) (Unit, error) {
	slice, prefix, name := "", DefaultPrefix, id
	if cgroupsPath != "" {
		parts := strings.Split(cgroupsPath, ":")
		if len(parts) != 3 {
			return Unit{}, fmt.Errorf("linux.cgroupsPath %q: with --systemd-cgroup it must be \"slice:prefix:name\" (e.g. system.slice:docker:<id>)", cgroupsPath)
		}
		slice, prefix, name = parts[0], parts[1], parts[2]
	}
	if slice == "" {
		slice = DefaultSlice
		if user {
			slice = DefaultUserSlice
		}
	}
	if name == "" {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: the name (after the second colon) is empty", cgroupsPath)
	}
	u := Unit{Slice: slice}
	switch {
	case strings.HasSuffix(name, ".slice"), strings.HasSuffix(name, ".scope"):
		u.Name = name
	case prefix == "":
		u.Name = name + ".scope"
	default:
		u.Name = prefix + "-" + name + ".scope"
	}
	if _, err := ExpandSlice(slice); err != nil {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	if err := checkUnitName(u.Name); err != nil {
		return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
	}
	if u.IsSlice() {
		if _, err := ExpandSlice(u.Name); err != nil {
			return Unit{}, fmt.Errorf("linux.cgroupsPath %q: %w", cgroupsPath, err)
		}
	}
	return u, nil
}

// Dir is the unit's cgroup directory under the cgroup2 mount mnt: the
// slice's path, then the unit. systemd puts a slice a-b.slice under a.slice
// (ExpandSlice), and the unit in its slice.
func (u Unit) Dir(mnt string) string {
	slicePath, _ := ExpandSlice(u.Slice) // checked by ParsePath
	if u.IsSlice() {
		// A slice named as the container's unit sits where its own name
		// puts it; the slice field is only its parent's name then, as
		// systemd derives the parent from the name.
		p, _ := ExpandSlice(u.Name)
		return filepath.Join(mnt, u.Manager, p)
	}
	return filepath.Join(mnt, u.Manager, slicePath, u.Name)
}

// ExpandSlice turns a slice name into its cgroup path, as systemd nests
// slices: "a-b-c.slice" is /a.slice/a-b.slice/a-b-c.slice; "-.slice" is
// the root. Names systemd would refuse are refused: no "/", no empty
// component (a leading, trailing or doubled "-").
func ExpandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || base == "" {
		return "", fmt.Errorf("slice %q: a slice's name ends in .slice", slice)
	}
	if strings.Contains(slice, "/") {
		return "", fmt.Errorf("slice %q: a slice's name has no /", slice)
	}
	if base == "-" {
		return "/", nil
	}
	if err := checkUnitName(slice); err != nil {
		return "", err
	}
	var path, prefix strings.Builder
	for i, component := range strings.Split(base, "-") {
		if component == "" {
			return "", fmt.Errorf("slice %q: empty component between dashes", slice)
		}
		if i > 0 {
			prefix.WriteByte('-')
		}
		prefix.WriteString(component)
		path.WriteString("/" + prefix.String() + ".slice")
	}
	return path.String(), nil
}

// checkUnitName refuses what systemd refuses in a unit name (a container
// id may hold "+", say), so that the error names the config's field and
// the character rather than coming back from D-Bus.
func checkUnitName(name string) error {
	if len(name) > 255 {
		return fmt.Errorf("unit name %q is longer than systemd's 255 bytes", name)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(":-_.\\@", r):
		default:
			return fmt.Errorf("unit name %q: systemd does not allow %q in a unit name", name, r)
		}
	}
	return nil
}
