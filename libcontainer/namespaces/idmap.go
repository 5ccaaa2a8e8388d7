package namespaces

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/nsenter"
)

// WriteIDMaps writes the id maps of the new user namespace of process pid.
// Privileged kan writes /proc/<pid>/{uid,gid}_map itself. An unprivileged
// one may write there only a map of its own id (and the gid one only once
// setgroups is denied); a map of more — the user's subordinate ranges of
// /etc/subuid and /etc/subgid — goes through the setuid helpers newuidmap
// and newgidmap, which check the ranges against those files. runc does the
// same, in the same order.
func WriteIDMaps(pid int, uids, gids []specs.LinuxIDMapping) error {
	if err := writeMap(pid, "uid_map", "newuidmap", uids, os.Geteuid()); err != nil {
		return fmt.Errorf("linux.uidMappings: %w", err)
	}
	if err := writeMap(pid, "gid_map", "newgidmap", gids, os.Getegid()); err != nil {
		return fmt.Errorf("linux.gidMappings: %w", err)
	}
	return nil
}

func writeMap(pid int, file, tool string, ms []specs.LinuxIDMapping, own int) error {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
	}
	path := fmt.Sprintf("/proc/%d/%s", pid, file)
	err := os.WriteFile(path, []byte(b.String()), 0)
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return err
	}
	ownOnly := len(ms) == 1 && ms[0].Size == 1 && int64(ms[0].HostID) == int64(own)
	if ownOnly && file == "gid_map" {
		// Without privilege, a gid map needs setgroups denied first:
		// otherwise the user could drop a group it is in that denies it
		// access. The container then cannot set groups, as under runc.
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/setgroups", pid), []byte("deny"), 0); err != nil {
			return fmt.Errorf("deny setgroups: %w", err)
		}
		return os.WriteFile(path, []byte(b.String()), 0)
	}
	if ownOnly {
		return err
	}
	helper, lerr := exec.LookPath(tool)
	if lerr != nil {
		return fmt.Errorf("%w: an unprivileged user maps ids other than its own (%d) through %s, which is not installed (Debian's uidmap package)", err, own, tool)
	}
	args := []string{strconv.Itoa(pid)}
	for _, m := range ms {
		args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10), strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
	}
	cmd := exec.Command(helper, args...)
	if err := nsenter.Unheld(cmd); err != nil {
		return fmt.Errorf("%s: %w", tool, err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s (the ranges must be the user's own, in /etc/sub%cid)", tool, strings.Join(args, " "), err, strings.TrimSpace(string(out)), file[0])
	}
	return nil
}
