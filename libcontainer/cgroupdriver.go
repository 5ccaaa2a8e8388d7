package libcontainer

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	sd "github.com/coreos/go-systemd/v22/dbus"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/cgroups/systemd"
	"github.com/kan-runtime/kan/libcontainer/crashpoint"
	"github.com/kan-runtime/kan/libcontainer/nsenter"
)

// The two cgroup drivers. cgroupfs (the default): kan makes the
// container's cgroup directory itself, where linux.cgroupsPath says.
// systemd (--systemd-cgroup): linux.cgroupsPath is "slice:prefix:name",
// and systemd makes a transient scope with Delegate=yes whose cgroup is
// the container's; kan then writes the resources to its files as with
// cgroupfs (libcontainer/cgroups/systemd).
//
// Either way the init is cloned straight into the cgroup
// (CLONE_INTO_CGROUP), so it runs no instruction outside it and its
// cgroup namespace is rooted there. runc and crun start their init in
// their own cgroup and have systemd move it into the new scope while it
// waits; kan cannot move its init, whose cgroup namespace (made by the
// clone) would then be rooted at kan's cgroup. And systemd starts a scope
// only with a process in it. So a holder process, a second copy of kan
// that waits in C (nsenter.c), is the scope's first process; the init is
// cloned into the scope's cgroup; the holder exits. A kan killed before
// that closes the holder's stdin, the holder exits and systemd collects
// the empty scope.

// placeCgroup finds the container's cgroup directory for the driver, and
// for systemd's connects to it: no systemd is an error before anything
// exists.
func (cr *creation) placeCgroup() error {
	o := cr.o
	if !o.SystemdCgroup {
		if looksSystemd(o.Config.CgroupsPath) {
			return fmt.Errorf("linux.cgroupsPath %q is systemd's \"slice:prefix:name\" form: it needs --systemd-cgroup (or give a cgroupfs path)", o.Config.CgroupsPath)
		}
		var err error
		cr.cgroupDir, err = cgroups.Path(cr.mnt, o.Config.CgroupsPath, o.ID)
		return err
	}
	u, err := systemd.ParsePath(o.Config.CgroupsPath, o.ID, o.Rootless)
	if err != nil {
		return err
	}
	cr.unit = &u
	if cr.sd, err = connectSystemd(o.Rootless); err != nil {
		return err
	}
	if o.Rootless {
		// The user's instance puts its slices under its own cgroup.
		if u.Manager, err = cr.sd.ControlGroup(); err != nil {
			return err
		}
		if err := userCanClone(cr.mnt, u.Manager); err != nil {
			return err
		}
	}
	cr.cgroupDir = u.Dir(cr.mnt)
	return nil
}

// connectSystemd reaches the systemd that holds a container's unit: the
// system's, or for a rootless kan the user's own instance.
func connectSystemd(rootless bool) (*systemd.Conn, error) {
	if rootless {
		return systemd.ConnectUser()
	}
	return systemd.Connect()
}

// userCanClone refuses a rootless kan that runs outside its user's
// systemd instance (in a login session's scope, say): the init is cloned
// into the unit's cgroup (see above), and cgroup v2 lets a process do
// that only when it may write the cgroup.procs of the common ancestor of
// its own cgroup and the unit's, which outside the instance's subtree is
// root's. runc and crun have systemd move their init; Podman runs its
// runtime inside the instance.
func userCanClone(mnt, manager string) error {
	own, err := cgroups.Own()
	if err != nil {
		return err
	}
	if own == manager || strings.HasPrefix(own, strings.TrimSuffix(manager, "/")+"/") {
		return nil
	}
	return fmt.Errorf("--systemd-cgroup: kan runs rootless in cgroup %s, outside its user's systemd instance (%s): it could not start the container's init in the unit's cgroup; run kan inside the instance, e.g. with systemd-run --user --scope", own, manager)
}

// looksSystemd tells systemd's "slice:prefix:name" from a cgroupfs path,
// which has a leading slash or no two colons (a directory's name may
// hold a colon).
func looksSystemd(p string) bool {
	return strings.Count(p, ":") == 2 && !strings.HasPrefix(p, "/")
}

// unitName is the systemd unit the state records ("" for cgroupfs).
func (cr *creation) unitName() string {
	if cr.unit == nil {
		return ""
	}
	return cr.unit.Name
}

// makeCgroup makes the container's cgroup: the directory, or systemd's
// unit with the properties of linux.resources and a holder in it.
func (cr *creation) makeCgroup() error {
	if cr.unit == nil {
		// A cgroup cgroups.Create refuses (another container's, say) is
		// not for a failed create to remove.
		if err := cgroups.Create(cr.cgroupDir); err != nil {
			return err
		}
		cr.cgroupOwned = true
		return nil
	}
	r := cr.cfg.Resources
	props, err := unitProperties(r, cr.o.Rootless)
	if err != nil {
		return err
	}
	var pids []uint32
	if !cr.unit.IsSlice() {
		if cr.holder, err = startHolder(); err != nil {
			return err
		}
		pids = []uint32{uint32(cr.holder.pid)}
	}
	crashpoint.Hit("create-unit-holder")
	// From here the unit may exist: undo stops it even if the start
	// fails (a job that timed out may still run).
	cr.unitStarted = true
	if err := cr.sd.Start(*cr.unit, cr.o.ID, pids, props); err != nil {
		return err
	}
	cr.cgroupOwned = true
	if debugOn() {
		slog.Debug("create: systemd unit started", "unit", cr.unit.Name, "slice", cr.unit.Slice, "cgroup", cr.cgroupDir)
	}
	crashpoint.Hit("create-unit-started")
	return nil
}

// releaseHolder ends the holder once the init is in the scope.
func (cr *creation) releaseHolder() {
	if cr.holder != nil {
		cr.holder.stop()
		cr.holder = nil
	}
}

// stopUnit stops the unit of a failed create, and resets it if it failed.
func (cr *creation) stopUnit() {
	cr.releaseHolder()
	if cr.unitStarted {
		if err := cr.sd.Stop(cr.unit.Name); err != nil {
			slog.Warn(err.Error())
		}
	}
}

// holder is the first process of a new scope (see above).
type holder struct {
	pid   int
	stdin *os.File
}

func startHolder() (*holder, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("--systemd-cgroup: holder's pipe: %w", err)
	}
	defer r.Close()
	// Not os/exec: see startInit.
	pid, err := startOnCPUs("/proc/self/exe", []string{"kan", "hold"}, &syscall.ProcAttr{
		Env:   append([]string{"_KAN_HOLD=1"}, nsenter.ChildEnv()...),
		Files: []uintptr{r.Fd()},
	}, nil)
	runtime.KeepAlive(r)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("--systemd-cgroup: start the scope's holder process: %w", err)
	}
	return &holder{pid, w}, nil
}

func (h *holder) stop() {
	h.stdin.Close()
	reap(h.pid)
}

// unitProperties are the unit's properties for r. Rootless, without the
// device rules: the kernel checks devices against the user's own access,
// and a user's instance cannot load a device filter (runc leaves them out
// too).
func unitProperties(r *specs.LinuxResources, rootless bool) ([]sd.Property, error) {
	rules := deviceRules(r)
	if rootless {
		rules = nil
	}
	return systemd.Properties(r, rules, majorName)
}

// stopUnitOf stops a deleted container's unit, if it has one. A systemd
// that cannot be reached is logged, not an error: the cgroup is gone, and
// a container whose delete failed for ever would be worse.
func stopUnitOf(unit string, rootless bool) {
	if unit == "" {
		return
	}
	conn, err := connectSystemd(rootless)
	if err == nil {
		err = conn.Stop(unit)
		conn.Close()
	}
	if err != nil {
		slog.Warn(err.Error())
	}
}

// setUnitResources gives the unit of an updated container its new
// properties, before kan writes the files.
func setUnitResources(unit string, rootless bool, r *specs.LinuxResources) error {
	if unit == "" {
		return nil
	}
	props, err := unitProperties(r, rootless)
	if err != nil {
		return err
	}
	conn, err := connectSystemd(rootless)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Set(unit, props)
}

// majorName names a device major number as /proc/devices does, which is
// how systemd's DeviceAllow names a whole major ("char-pts").
func majorName(typ string, major int64) string {
	f, err := os.Open("/proc/devices")
	if err != nil {
		return ""
	}
	defer f.Close()
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch line {
		case "Character devices:":
			section = "c"
			continue
		case "Block devices:":
			section = "b"
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSpace(line), " ")
		if n, err := strconv.ParseInt(num, 10, 64); ok && err == nil && section == typ && n == major {
			return name
		}
	}
	return ""
}
