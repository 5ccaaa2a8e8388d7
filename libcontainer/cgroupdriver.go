package libcontainer

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/cgroups/systemd"
	"github.com/kan-runtime/kan/libcontainer/crashpoint"
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
	u, err := systemd.ParsePath(o.Config.CgroupsPath, o.ID)
	if err != nil {
		return err
	}
	cr.unit = &u
	cr.cgroupDir = u.Dir(cr.mnt)
	cr.sd, err = systemd.Connect()
	return err
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
	props, err := systemd.Properties(r, deviceRules(r), majorName)
	if err != nil {
		return err
	}
	var pids []uint32
	if !cr.unit.IsSlice() {
		if cr.holder, err = startHolder(); err != nil {
			return err
		}
		pids = []uint32{uint32(cr.holder.Process.Pid)}
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
	*exec.Cmd
	stdin *os.File
}

func startHolder() (*holder, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("--systemd-cgroup: holder's pipe: %w", err)
	}
	defer r.Close()
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: []string{"kan", "hold"}, Env: []string{"_KAN_HOLD=1"}, Stdin: r}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("--systemd-cgroup: start the scope's holder process: %w", err)
	}
	return &holder{cmd, w}, nil
}

func (h *holder) stop() {
	h.stdin.Close()
	h.Wait()
}

// stopUnitOf stops a deleted container's unit, if it has one. A systemd
// that cannot be reached is logged, not an error: the cgroup is gone, and
// a container whose delete failed for ever would be worse.
func stopUnitOf(unit string) {
	if unit == "" {
		return
	}
	conn, err := systemd.Connect()
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
func setUnitResources(unit string, r *specs.LinuxResources) error {
	if unit == "" {
		return nil
	}
	props, err := systemd.Properties(r, deviceRules(r), majorName)
	if err != nil {
		return err
	}
	conn, err := systemd.Connect()
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
