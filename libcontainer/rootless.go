package libcontainer

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/rootfs"
	"github.com/kan-runtime/kan/libcontainer/state"
)

// rootlessCgroup is where a rootless kan puts the container's cgroup, or
// "" for none; dir is where a privileged kan would put it. Without
// linux.cgroupsPath the cgroup goes under the subtree delegated to the
// user (cgroups.Delegated), in kan/<id>. Where kan may manage no cgroup on
// the way, the container runs without one, as under runc — unless the
// config asks for limits, which then could not be applied: an error
// naming the field, never a silent ignore.
func rootlessCgroup(mnt string, cfg *config.Container, id, dir string) (string, error) {
	delegated := cgroups.Delegated(mnt)
	if cfg.CgroupsPath == "" && delegated != "" {
		dir = filepath.Join(delegated, "kan", id)
	}
	if delegated != "" && isBelow(dir, delegated) {
		return dir, nil
	}
	limits, err := cgroups.Limits(cfg.Resources)
	if err != nil {
		return "", err
	}
	why := "no cgroup above kan's own is delegated to this user"
	if delegated != "" {
		why = fmt.Sprintf("%s is outside the cgroup delegated to this user (%s)", dir, delegated)
	}
	if len(limits) > 0 {
		return "", fmt.Errorf("%s: kan runs rootless and cannot apply it: %s (run kan in a delegated cgroup, e.g. with systemd-run --user --scope, or leave the limit out)", limits[0], why)
	}
	slog.Debug("create: rootless, no cgroup: the config asks for no limits", "why", why)
	return "", nil
}

// checkRootlessMounts refuses what a rootless kan cannot mount: an
// idmapped mount needs CAP_SYS_ADMIN over the source's filesystem, which
// belongs to the host's user namespace: refused before anything exists
// rather than failing at mount_setattr.
func checkRootlessMounts(cfg *config.Container) error {
	for i, m := range cfg.Mounts {
		if rootfs.IsIDMapped(m) {
			return fmt.Errorf("mounts[%d] (%s on %s) is idmapped: kan runs rootless, and an idmapped mount needs privilege over the source's filesystem on the host; leave out the idmap option and uidMappings/gidMappings", i, m.Source, m.Destination)
		}
	}
	return nil
}

func isBelow(dir, top string) bool {
	rel, err := filepath.Rel(top, dir)
	return err == nil && rel != "." && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != "../")
}

// errNoCgroup is what needs a cgroup says of a container run without one
// (rootlessCgroup).
func errNoCgroup(what string) error {
	return fmt.Errorf("%s: the container has no cgroup: kan ran it rootless, where no cgroup was delegated to the user", what)
}

// Pids lists the container's processes: those in its cgroup or, for a
// container without one, those in its pid namespace (the init alone when
// it shares another's).
func Pids(st *state.State) ([]int, error) {
	if st.CgroupPath != "" {
		return cgroups.AllPids(st.CgroupPath)
	}
	if !alive(st.Pid, st.InitStartTime) {
		return nil, nil
	}
	pids := []int{st.Pid}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", st.Pid))
	if err != nil {
		return pids, nil // an init not yet dumpable: nothing else runs yet
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == st.Pid {
			continue
		}
		if other, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && other == ns && !hostPidNS(ns) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// hostPidNS tells whether ns (a /proc/<pid>/ns/pid link) is kan's own pid
// namespace, which a container without one of its own shares: its other
// processes are not the container's.
func hostPidNS(ns string) bool {
	own, err := os.Readlink("/proc/self/ns/pid")
	return err == nil && own == ns
}

// signalAll signals every process of the container (Pids).
func (c *Container) signalAll(sig unix.Signal) error {
	if c.State.CgroupPath != "" {
		return cgroups.Signal(c.State.CgroupPath, sig)
	}
	pids, err := Pids(c.State)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return fmt.Errorf("signal %d: %w", pid, err)
		}
	}
	return nil
}
