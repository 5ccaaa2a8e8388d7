package libcontainer

import (
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/kan-runtime/kan/libcontainer/cgroups"
	"github.com/kan-runtime/kan/libcontainer/rootless"
)

// RootlessFeatures adds to f what a rootless kan (--rootless resolved to
// on) supports on this host, for the user running it: what the features
// document has no field for goes into annotations under
// io.github.kan-runtime.kan.rootless; what kan cannot do rootless
// (idmapped mounts, moving net devices) is reported disabled.
func RootlessFeatures(f *features.Features, on bool) {
	const key = "io.github.kan-runtime.kan.rootless"
	if f.Annotations == nil {
		f.Annotations = map[string]string{}
	}
	a := f.Annotations
	a[key] = fmt.Sprint(on)
	if !on {
		return
	}
	no := false
	f.Linux.MountExtensions = &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}}
	f.Linux.NetDevices = &features.NetDevices{Enabled: &no}
	a[key+".userns"] = fmt.Sprint(rootless.UserNSAllowed())
	a[key+".idmap"] = idMapFeature()
	a[key+".cgroup"] = cgroupFeature()
	a[key+".devices"] = "bind-mounted from the host, no device filter: the kernel checks the user's own access"
	a[key+".rlimits"] = "hard limits up to the user's own"
}

func idMapFeature() string {
	uid := os.Geteuid()
	name := fmt.Sprint(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	own := fmt.Sprintf("own uid %d and gid %d", uid, os.Getegid())
	uids, gids := rootless.SubIDs("/etc/subuid", name, uid), rootless.SubIDs("/etc/subgid", name, uid)
	nu, ng := rootless.MapTool("newuidmap"), rootless.MapTool("newgidmap")
	switch {
	case len(uids) == 0 && len(gids) == 0:
		return own + "; no subordinate ranges in /etc/subuid, /etc/subgid"
	case nu == "" || ng == "":
		return own + "; subordinate ranges unusable: newuidmap/newgidmap not installed (Debian's uidmap)"
	}
	var r []string
	for _, x := range uids {
		r = append(r, fmt.Sprintf("uids %d-%d", x.Start, x.Start+x.Count-1))
	}
	for _, x := range gids {
		r = append(r, fmt.Sprintf("gids %d-%d", x.Start, x.Start+x.Count-1))
	}
	return fmt.Sprintf("%s; %s through %s and %s", own, strings.Join(r, ", "), nu, ng)
}

func cgroupFeature() string {
	mnt, err := cgroups.Mountpoint()
	if err != nil {
		return "none: " + err.Error()
	}
	dir := cgroups.Delegated(mnt)
	if dir == "" {
		return "none delegated above kan's own cgroup: containers run without one, and a config asking for limits is refused"
	}
	ctrl, _ := cgroups.Controllers(dir)
	return fmt.Sprintf("delegated %s (controllers: %s): containers' cgroups go under it", dir, strings.Join(ctrl, " "))
}
