package spec

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Validate checks a config for everything kan needs before it creates a
// container. It returns the first problem found, checking the fields in a
// fixed order so the same config always gives the same error. Each error
// names its field, JSON-path style, and says what is wrong with it.
//
// Once Validate has passed, s.Process, s.Root and s.Linux are non-nil.
func Validate(s *specs.Spec) error {
	if s == nil {
		return errors.New("config: missing")
	}
	for _, check := range []func(*specs.Spec) error{
		checkVersion,
		checkRoot,
		checkProcess,
		checkHostname,
		// From here on the checks may assume s.Linux != nil.
		checkLinux,
		checkNamespaces,
		checkIDMappings,
		checkMounts,
		checkDevices,
		checkMaskedReadonly,
		checkSysctl,
		checkRootfsPropagation,
		checkCgroupsPath,
		checkHooks,
		checkProcAttrs,
		checkNetDevices,
	} {
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

// versionMajor returns the major version of v, which must be
// MAJOR.MINOR.PATCH (decimal digits) with an optional pre-release
// ("-" and letters, digits, dots and dashes) and build suffix ("+" and
// the same). It is looser than SemVer (leading zeros pass) on purpose:
// only the major version decides whether kan understands the config.
func versionMajor(v string) (string, bool) {
	digits := func() string {
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		d := v[:i]
		v = v[i:]
		return d
	}
	suffix := func(lead byte) bool {
		if v == "" || v[0] != lead {
			return true
		}
		i := 1
		for i < len(v) && (v[i] == '.' || v[i] == '-' || v[i] >= '0' && v[i] <= '9' || v[i] >= 'a' && v[i] <= 'z' || v[i] >= 'A' && v[i] <= 'Z') {
			i++
		}
		ok := i > 1
		v = v[i:]
		return ok
	}
	major := digits()
	for range 2 {
		if major == "" || v == "" || v[0] != '.' {
			return "", false
		}
		v = v[1:]
		if digits() == "" {
			return "", false
		}
	}
	if !suffix('-') || !suffix('+') || v != "" {
		return "", false
	}
	return major, true
}

func checkVersion(s *specs.Spec) error {
	if s.Version == "" {
		return errors.New("ociVersion: missing; kan needs to know which version of the runtime spec the config follows")
	}
	major, ok := versionMajor(s.Version)
	if !ok {
		return fmt.Errorf("ociVersion: %q is not a version of the form MAJOR.MINOR.PATCH", s.Version)
	}
	if major != "1" {
		return fmt.Errorf("ociVersion: unsupported major version %s in %q (kan supports 1.x)", major, s.Version)
	}
	return nil
}

func checkRoot(s *specs.Spec) error {
	if s.Root == nil {
		return errors.New("root: missing; kan needs a root filesystem")
	}
	if s.Root.Path == "" {
		return errors.New("root.path: empty; kan needs a root filesystem")
	}
	return nil
}

// Rlimits are the resource limits setrlimit(2) knows on Linux, by name.
var Rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// knownCapabilities holds the names ("CAP_CHOWN", ...) of the capabilities
// the capability library can set; a name it does not know could not be
// applied later, so it is rejected up front.
var knownCapabilities = sync.OnceValue(func() map[string]bool {
	known := map[string]bool{}
	for _, c := range capability.ListKnown() {
		known["CAP_"+strings.ToUpper(c.String())] = true
	}
	return known
})

func checkProcess(s *specs.Spec) error {
	p := s.Process
	if p == nil {
		return errors.New("process: missing; kan creates containers to run a process")
	}
	// A process kan exec adds may carry the size of no terminal, as
	// engines send it: it is left unused there.
	if p.ConsoleSize != nil && !p.Terminal {
		return errors.New("process.consoleSize: set, but there is no terminal to size (process.terminal is false)")
	}
	return CheckProcess(p)
}

// CheckProcess checks a process, a config's or one `kan exec` adds.
func CheckProcess(p *specs.Process) error {
	if len(p.Args) == 0 {
		return errors.New("process.args: empty; kan needs a program to run")
	}
	if p.Args[0] == "" {
		return errors.New("process.args[0]: empty program name")
	}
	for i, a := range p.Args {
		// execve(2) takes C strings: a NUL would silently cut the argument.
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("process.args[%d]: %q contains a NUL byte", i, a)
		}
	}
	if !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd: %q is not an absolute path", p.Cwd)
	}
	for i, kv := range p.Env {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("process.env[%d]: %q is not of the form NAME=value", i, kv)
		}
		if strings.ContainsRune(kv, 0) {
			return fmt.Errorf("process.env[%d]: %q contains a NUL byte", i, kv)
		}
	}
	if p.User.Username != "" {
		return fmt.Errorf("process.user.username: %q: user names are not supported on Linux; use uid and gid", p.User.Username)
	}
	if err := CheckUserIDs(p.User); err != nil {
		return err
	}
	if err := checkRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := checkCapabilities(p.Capabilities); err != nil {
		return err
	}
	if io := p.IOPriority; io != nil {
		switch io.Class {
		case specs.IOPRIO_CLASS_RT, specs.IOPRIO_CLASS_BE, specs.IOPRIO_CLASS_IDLE:
		default:
			return fmt.Errorf("process.ioPriority.class: unknown class %q (valid: %s, %s, %s)",
				io.Class, specs.IOPRIO_CLASS_RT, specs.IOPRIO_CLASS_BE, specs.IOPRIO_CLASS_IDLE)
		}
		// ioprio_set(2) has eight levels per class.
		if io.Priority < 0 || io.Priority > 7 {
			return fmt.Errorf("process.ioPriority.priority: %d is not between 0 and 7", io.Priority)
		}
	}
	if sc := p.Scheduler; sc != nil {
		switch sc.Policy {
		case specs.SchedOther, specs.SchedFIFO, specs.SchedRR, specs.SchedBatch,
			specs.SchedISO, specs.SchedIdle, specs.SchedDeadline:
		default:
			return fmt.Errorf("process.scheduler.policy: unknown policy %q", sc.Policy)
		}
	}
	return nil
}

func checkRlimits(list []specs.POSIXRlimit) error {
	known := func(name string) bool { _, ok := Rlimits[name]; return ok }
	seen := map[string]bool{}
	for i, rl := range list {
		switch {
		case !known(rl.Type):
			return fmt.Errorf("process.rlimits[%d].type: unknown resource limit %q", i, rl.Type)
		case rl.Soft > rl.Hard:
			return fmt.Errorf("process.rlimits[%d]: %s soft limit %d is above the hard limit %d", i, rl.Type, rl.Soft, rl.Hard)
		case seen[rl.Type]:
			// Which of the two should win is not defined; make the
			// author pick one.
			return fmt.Errorf("process.rlimits[%d].type: duplicate limit %s", i, rl.Type)
		}
		seen[rl.Type] = true
	}
	return nil
}

func checkCapabilities(c *specs.LinuxCapabilities) error {
	if c == nil {
		return nil
	}
	known := knownCapabilities()
	for _, set := range []struct {
		name string
		caps []string
	}{
		{"bounding", c.Bounding},
		{"effective", c.Effective},
		{"inheritable", c.Inheritable},
		{"permitted", c.Permitted},
		{"ambient", c.Ambient},
	} {
		for i, name := range set.caps {
			if !known[name] {
				return fmt.Errorf("process.capabilities.%s[%d]: unknown capability %q", set.name, i, name)
			}
		}
	}
	return nil
}

func checkHostname(s *specs.Spec) error {
	// Without a UTS namespace of the container's, new or joined, setting
	// the name would rename the host.
	_, hasUTS := findNamespace(s, specs.UTSNamespace)
	if s.Hostname != "" && !hasUTS {
		return errors.New("hostname: requires a uts namespace (new or joined)")
	}
	if s.Domainname != "" && !hasUTS {
		return errors.New("domainname: requires a uts namespace (new or joined)")
	}
	return nil
}

func checkLinux(s *specs.Spec) error {
	if s.Linux == nil {
		return errors.New("linux: missing; kan runs Linux containers and needs at least the namespaces to create")
	}
	return nil
}

// namespaceTypes lists the namespaces kan can create or join.
var namespaceTypes = []specs.LinuxNamespaceType{
	specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace, specs.IPCNamespace,
	specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace, specs.TimeNamespace,
}

func checkNamespaces(s *specs.Spec) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range s.Linux.Namespaces {
		if !slices.Contains(namespaceTypes, ns.Type) {
			valid := make([]string, len(namespaceTypes))
			for j, t := range namespaceTypes {
				valid[j] = string(t)
			}
			return fmt.Errorf("linux.namespaces[%d].type: unknown namespace type %q (valid: %s)", i, ns.Type, strings.Join(valid, ", "))
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces: duplicate namespace %q", ns.Type)
		}
		seen[ns.Type] = true
		// A relative path would depend on kan's working directory.
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("linux.namespaces[%d].path: %q is not an absolute path", i, ns.Path)
		}
	}
	if len(s.Linux.TimeOffsets) > 0 && !hasNewNamespace(s, specs.TimeNamespace) {
		return errors.New("linux.timeOffsets: requires a new time namespace")
	}
	for _, clock := range sortedKeys(s.Linux.TimeOffsets) {
		// These are the only clocks a time namespace can shift.
		if clock != "monotonic" && clock != "boottime" {
			return fmt.Errorf("linux.timeOffsets: unknown clock %q (valid: monotonic, boottime)", clock)
		}
		if ns := s.Linux.TimeOffsets[clock].Nanosecs; ns >= 1e9 {
			return fmt.Errorf("linux.timeOffsets.%s.nanosecs: %d is not below one second", clock, ns)
		}
	}
	return nil
}

// findNamespace returns the config's namespace of type t, if any.
func findNamespace(s *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	if s.Linux == nil {
		return specs.LinuxNamespace{}, false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns, true
		}
	}
	return specs.LinuxNamespace{}, false
}

// hasNewNamespace tells whether the config creates (rather than joins) a
// namespace of type t.
func hasNewNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	ns, ok := findNamespace(s, t)
	return ok && ns.Path == ""
}

func checkIDMappings(s *specs.Spec) error {
	l := s.Linux
	userNS, hasUser := findNamespace(s, specs.UserNamespace)
	for _, set := range []struct {
		name string
		m    []specs.LinuxIDMapping
	}{{"linux.uidMappings", l.UIDMappings}, {"linux.gidMappings", l.GIDMappings}} {
		switch {
		case len(set.m) > 0 && !hasUser:
			return fmt.Errorf("%s: requires a user namespace", set.name)
		case len(set.m) > 0 && userNS.Path != "":
			// The kernel allows writing the maps only once, and the
			// namespace being joined already has them.
			return fmt.Errorf("%s: the joined user namespace %s already has its mappings", set.name, userNS.Path)
		case len(set.m) == 0 && hasUser && userNS.Path == "":
			// Without mappings every id in the container is the
			// overflow id and the process can do next to nothing.
			return fmt.Errorf("%s: a new user namespace needs uid and gid mappings", set.name)
		}
		if err := checkIDRanges(set.name, set.m); err != nil {
			return err
		}
	}
	return nil
}

// checkIDRanges rejects empty ranges, ranges that run past the largest id,
// and ranges that overlap on either side: the kernel refuses such maps, and
// an error here says which entry is wrong.
func checkIDRanges(name string, m []specs.LinuxIDMapping) error {
	const maxID = 1<<32 - 1
	for i, a := range m {
		if a.Size == 0 {
			return fmt.Errorf("%s[%d].size: 0; a mapping must map at least one id", name, i)
		}
		if uint64(a.ContainerID)+uint64(a.Size)-1 > maxID || uint64(a.HostID)+uint64(a.Size)-1 > maxID {
			return fmt.Errorf("%s[%d]: %d ids from container id %d, host id %d run past the largest id %d",
				name, i, a.Size, a.ContainerID, a.HostID, uint64(maxID))
		}
		for j, b := range m[:i] {
			if overlap(a.ContainerID, a.Size, b.ContainerID, b.Size) {
				return fmt.Errorf("%s[%d]: container ids %s overlap those of %s[%d] (%s)",
					name, i, idRange(a.ContainerID, a.Size), name, j, idRange(b.ContainerID, b.Size))
			}
			if overlap(a.HostID, a.Size, b.HostID, b.Size) {
				return fmt.Errorf("%s[%d]: host ids %s overlap those of %s[%d] (%s)",
					name, i, idRange(a.HostID, a.Size), name, j, idRange(b.HostID, b.Size))
			}
		}
	}
	return nil
}

func overlap(a, alen, b, blen uint32) bool {
	return uint64(a) < uint64(b)+uint64(blen) && uint64(b) < uint64(a)+uint64(alen)
}

func idRange(start, size uint32) string {
	return fmt.Sprintf("%d-%d", start, uint64(start)+uint64(size)-1)
}

func checkMounts(s *specs.Spec) error {
	for i, m := range s.Mounts {
		if m.Destination == "" {
			return fmt.Errorf("mounts[%d].destination: empty", i)
		}
		if escapesRoot(m.Destination) {
			return fmt.Errorf("mounts[%d].destination: %q climbs out of the container root with ..", i, m.Destination)
		}
		bind := m.Type == "bind"
		for j, o := range m.Options {
			// Unknown words are not rejected: they may be options of the
			// filesystem, which only the kernel can judge. An empty one
			// or a NUL, though, is never meaningful.
			if o == "" {
				return fmt.Errorf("mounts[%d].options[%d]: empty option", i, j)
			}
			if strings.ContainsRune(o, 0) {
				return fmt.Errorf("mounts[%d].options[%d]: %q contains a NUL byte", i, j, o)
			}
			bind = bind || o == "bind" || o == "rbind"
		}
		if bind && m.Source == "" {
			return fmt.Errorf("mounts[%d].source: a bind mount of %s needs a source", i, m.Destination)
		}
		if !bind && m.Type == "" {
			return fmt.Errorf("mounts[%d].type: empty; only bind mounts may leave out the filesystem type", i)
		}
		// tmpcopyup fills a new tmpfs; on anything else kan would have
		// to drop it silently.
		if slices.Contains(m.Options, "tmpcopyup") && m.Type != "tmpfs" {
			return fmt.Errorf("mounts[%d].options: tmpcopyup works only for tmpfs, not type %q", i, m.Type)
		}
		if err := checkMountIDMap(s, i, m, bind); err != nil {
			return err
		}
	}
	return nil
}

// checkMountIDMap checks an idmapped mount (spec 1.2): only bind mounts
// can be idmapped, per-mount mappings come in pairs (mappings without the
// idmap option mean idmap, as with runc), and without them the container's
// own user namespace gives the maps.
func checkMountIDMap(s *specs.Spec, i int, m specs.Mount, bind bool) error {
	idmap := slices.Contains(m.Options, "idmap") || slices.Contains(m.Options, "ridmap")
	mapped := len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0
	switch {
	case !idmap && !mapped:
		return nil
	case !bind:
		return fmt.Errorf("mounts[%d]: an idmapped mount (idmap, ridmap or uid/gidMappings) must be a bind mount, not type %q", i, m.Type)
	case mapped && (len(m.UIDMappings) == 0 || len(m.GIDMappings) == 0):
		return fmt.Errorf("mounts[%d]: an idmapped mount needs both uidMappings and gidMappings", i)
	case !mapped:
		if _, ok := findNamespace(s, specs.UserNamespace); !ok {
			return fmt.Errorf("mounts[%d].options: idmap without uidMappings/gidMappings takes the maps of the container's user namespace, and there is none", i)
		}
	}
	if err := checkIDRanges(fmt.Sprintf("mounts[%d].uidMappings", i), m.UIDMappings); err != nil {
		return err
	}
	return checkIDRanges(fmt.Sprintf("mounts[%d].gidMappings", i), m.GIDMappings)
}

// escapesRoot tells whether a ".." in path climbs above the directory the
// path starts from. Relative destinations (allowed since spec 1.2) are taken
// from the container's "/", so the same rule applies to both kinds; a ".."
// that only undoes an earlier component is harmless.
func escapesRoot(path string) bool {
	depth := 0
	for _, part := range strings.Split(path, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

func checkDevices(s *specs.Spec) error {
	seen := map[string]int{}
	for i, d := range s.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return fmt.Errorf("linux.devices[%d].path: %q is not an absolute path", i, d.Path)
		}
		clean := filepath.Clean(d.Path)
		// Device nodes are created inside the container's /dev only; any
		// other place could shadow a file of the image.
		if !strings.HasPrefix(clean, "/dev/") {
			return fmt.Errorf("linux.devices[%d].path: %q is not under /dev", i, d.Path)
		}
		if j, dup := seen[clean]; dup {
			return fmt.Errorf("linux.devices[%d].path: %q is already linux.devices[%d]", i, d.Path, j)
		}
		seen[clean] = i
		var ifmt uint32
		switch d.Type {
		case "c", "u":
			ifmt = unix.S_IFCHR
		case "b":
			ifmt = unix.S_IFBLK
		case "p":
			ifmt = unix.S_IFIFO
		default:
			return fmt.Errorf("linux.devices[%d].type: %q is not one of c, b, u, p", i, d.Type)
		}
		if d.Type != "p" {
			// Major and minor are plain numbers in the spec types, so a
			// missing one decodes as 0. Device 0:0 does not exist, so
			// it can only mean the numbers were left out.
			if d.Major == 0 && d.Minor == 0 {
				return fmt.Errorf("linux.devices[%d]: %s needs major and minor numbers", i, d.Path)
			}
			// The kernel's dev_t has 12 bits of major and 20 of minor.
			if d.Major < 0 || d.Major > 0xfff {
				return fmt.Errorf("linux.devices[%d].major: %d is not between 0 and 4095", i, d.Major)
			}
			if d.Minor < 0 || d.Minor > 0xfffff {
				return fmt.Errorf("linux.devices[%d].minor: %d is not between 0 and 1048575", i, d.Minor)
			}
		}
		if d.FileMode != nil {
			// Accept permission bits (with setuid, setgid and sticky) and,
			// as some tools write them, the S_IFMT bits of the node type.
			mode := uint32(*d.FileMode)
			if mode&^(0o7777|unix.S_IFMT) != 0 {
				return fmt.Errorf("linux.devices[%d].fileMode: %#o has bits other than permission and file type bits", i, mode)
			}
			if t := mode & unix.S_IFMT; t != 0 && t != ifmt {
				return fmt.Errorf("linux.devices[%d].fileMode: file type bits %#o do not match type %q", i, t, d.Type)
			}
		}
	}
	return nil
}

func checkMaskedReadonly(s *specs.Spec) error {
	// These paths are resolved inside the container's root; a relative one
	// has no defined meaning.
	for i, p := range s.Linux.MaskedPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("linux.maskedPaths[%d]: %q is not an absolute path", i, p)
		}
	}
	for i, p := range s.Linux.ReadonlyPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("linux.readonlyPaths[%d]: %q is not an absolute path", i, p)
		}
	}
	return nil
}

func checkSysctl(s *specs.Spec) error {
	for _, key := range sortedKeys(s.Linux.Sysctl) {
		switch {
		case key == "":
			return errors.New("linux.sysctl: empty key")
		// A key names a file under /proc/sys; ".." or a leading "/"
		// would point somewhere else.
		case strings.Contains(key, "..") || strings.HasPrefix(key, "/"):
			return fmt.Errorf("linux.sysctl: key %q does not name a file under /proc/sys", key)
		}
		// The init writes the value from inside the container: a sysctl
		// of a namespace the container does not have, or of no namespace
		// at all, would change the host.
		ns, ok := SysctlNamespace(key)
		if !ok {
			return fmt.Errorf("linux.sysctl: %q is not namespaced: setting it would change the host", key)
		}
		if _, has := findNamespace(s, ns); !has {
			return fmt.Errorf("linux.sysctl: %q belongs to the %s namespace, which the container shares with the host; it needs one of its own (new or joined)", key, ns)
		}
	}
	return nil
}

// ipcSysctls are the sysctls of an ipc namespace outside fs.mqueue.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// SysctlNamespace tells which namespace a sysctl belongs to, as runc
// decides it: ipc, network and uts sysctls are namespaced, others are not.
func SysctlNamespace(key string) (specs.LinuxNamespaceType, bool) {
	// Keys use "." or, when a name contains dots, "/" as separator.
	dotted := key
	if strings.Contains(key, "/") {
		dotted = strings.ReplaceAll(key, "/", ".")
	}
	switch {
	case slices.Contains(ipcSysctls, dotted) || strings.HasPrefix(dotted, "fs.mqueue."):
		return specs.IPCNamespace, true
	case strings.HasPrefix(dotted, "net."):
		return specs.NetworkNamespace, true
	case dotted == "kernel.hostname" || dotted == "kernel.domainname":
		return specs.UTSNamespace, true
	}
	return "", false
}

func checkRootfsPropagation(s *specs.Spec) error {
	switch p := s.Linux.RootfsPropagation; p {
	case "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable":
		return nil
	default:
		return fmt.Errorf("linux.rootfsPropagation: unknown propagation %q (valid: private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable)", p)
	}
}

func checkCgroupsPath(s *specs.Spec) error {
	p := s.Linux.CgroupsPath
	// Which form the path must have (a directory, or systemd's
	// "slice:prefix:name") depends on --systemd-cgroup: the cgroup
	// driver checks that (libcontainer/cgroupdriver.go).
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			// The path must stay inside the cgroup hierarchy it names.
			return fmt.Errorf("linux.cgroupsPath: %q must not contain ..", p)
		}
	}
	return nil
}

func checkHooks(s *specs.Spec) error {
	if s.Hooks == nil {
		return nil
	}
	for _, set := range []struct {
		name  string
		hooks []specs.Hook
	}{
		{"prestart", s.Hooks.Prestart},
		{"createRuntime", s.Hooks.CreateRuntime},
		{"createContainer", s.Hooks.CreateContainer},
		{"startContainer", s.Hooks.StartContainer},
		{"poststart", s.Hooks.Poststart},
		{"poststop", s.Hooks.Poststop},
	} {
		for i, h := range set.hooks {
			// Hooks run from kan or from the container with whatever
			// working directory that has; only an absolute path is
			// unambiguous.
			if !filepath.IsAbs(h.Path) {
				return fmt.Errorf("hooks.%s[%d].path: %q is not an absolute path", set.name, i, h.Path)
			}
			for j, kv := range h.Env {
				if !strings.Contains(kv, "=") {
					return fmt.Errorf("hooks.%s[%d].env[%d]: %q is not of the form NAME=value", set.name, i, j, kv)
				}
			}
			if h.Timeout != nil && *h.Timeout <= 0 {
				return fmt.Errorf("hooks.%s[%d].timeout: %d is not a positive number of seconds", set.name, i, *h.Timeout)
			}
		}
	}
	return nil
}

// sortedKeys gives map keys in a fixed order, so that with several bad
// keys the same one is reported every time.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// MaxUserID is the largest uid or gid a process may be given: the kernel
// reads (uid_t)-1 as "leave unchanged", and user databases (moby/sys/user,
// which the init reads /etc/passwd with) stop at 2^31-1.
const MaxUserID = 1<<31 - 1

// CheckUserIDs refuses a uid, gid or additional gid above MaxUserID.
func CheckUserIDs(u specs.User) error {
	if u.UID > MaxUserID {
		return fmt.Errorf("process.user.uid %d: out of range (0 to %d)", u.UID, MaxUserID)
	}
	if u.GID > MaxUserID {
		return fmt.Errorf("process.user.gid %d: out of range (0 to %d)", u.GID, MaxUserID)
	}
	for i, g := range u.AdditionalGids {
		if g > MaxUserID {
			return fmt.Errorf("process.user.additionalGids[%d] %d: out of range (0 to %d)", i, g, MaxUserID)
		}
	}
	return nil
}

// ParseList parses a kernel list of numbers ("0-3,7,9-10"), as CPU and
// NUMA node lists are written, into the numbers it names, in order, each
// once. Its work is bounded by the length of the list and by the largest
// number (below 65536), never by how often ranges repeat: a 16 KB list of
// "0-65535" over and over must not make kan count to a hundred million.
func ParseList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty list")
	}
	type span struct{ lo, hi int }
	var spans []span
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a number or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a valid range", part)
			}
		}
		if b >= 1<<16 {
			return nil, fmt.Errorf("%q is out of range", part)
		}
		spans = append(spans, span{a, b})
	}
	slices.SortFunc(spans, func(x, y span) int { return x.lo - y.lo })
	var out []int
	next := 0 // the smallest number not yet in out
	for _, sp := range spans {
		for i := max(sp.lo, next); i <= sp.hi; i++ {
			out = append(out, i)
		}
		next = max(next, sp.hi+1)
	}
	return out, nil
}

// checkProcAttrs checks the per-process kernel attributes whose values
// must come from a fixed set or parse as lists.
func checkProcAttrs(s *specs.Spec) error {
	if a := s.Process.ExecCPUAffinity; a != nil {
		for field, list := range map[string]string{"initial": a.Initial, "final": a.Final} {
			if list == "" {
				continue
			}
			if _, err := ParseList(list); err != nil {
				return fmt.Errorf("process.execCPUAffinity.%s: %w", field, err)
			}
		}
	}
	if sc := s.Process.Scheduler; sc != nil {
		for _, f := range sc.Flags {
			if !slices.Contains(schedFlags, f) {
				return fmt.Errorf("process.scheduler.flags: unknown flag %q", f)
			}
		}
	}
	if p := s.Linux.Personality; p != nil {
		if p.Domain != specs.PerLinux && p.Domain != specs.PerLinux32 {
			return fmt.Errorf("linux.personality.domain: unknown domain %q (valid: %s, %s)", p.Domain, specs.PerLinux, specs.PerLinux32)
		}
		if len(p.Flags) > 0 {
			return fmt.Errorf("linux.personality.flags: %v: the spec defines no flags", p.Flags)
		}
	}
	if mp := s.Linux.MemoryPolicy; mp != nil {
		switch mp.Mode {
		case specs.MpolDefault, specs.MpolLocal:
			if mp.Nodes != "" {
				return fmt.Errorf("linux.memoryPolicy.nodes: %s takes no nodes, got %q", mp.Mode, mp.Nodes)
			}
		case specs.MpolBind, specs.MpolInterleave, specs.MpolWeightedInterleave, specs.MpolPreferred, specs.MpolPreferredMany:
			if _, err := ParseList(mp.Nodes); err != nil {
				return fmt.Errorf("linux.memoryPolicy.nodes: %w", err)
			}
		default:
			return fmt.Errorf("linux.memoryPolicy.mode: unknown mode %q", mp.Mode)
		}
		for _, f := range mp.Flags {
			switch f {
			case specs.MpolFNumaBalancing, specs.MpolFRelativeNodes, specs.MpolFStaticNodes:
			default:
				return fmt.Errorf("linux.memoryPolicy.flags: unknown flag %q", f)
			}
		}
	}
	return nil
}

var schedFlags = []specs.LinuxSchedulerFlag{
	specs.SchedFlagResetOnFork, specs.SchedFlagReclaim, specs.SchedFlagDLOverrun, specs.SchedFlagKeepPolicy,
	specs.SchedFlagKeepParams, specs.SchedFlagUtilClampMin, specs.SchedFlagUtilClampMax,
}

// netDeviceNameRE is what the kernel accepts as an interface name (at most
// 15 bytes, no "/", ":" or white space), with "%d" allowed as a template.
var netDeviceNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[^/:\s]{1,15}$`) })

// checkNetDevices checks linux.netDevices: the interfaces go into the
// container's network namespace, so there must be one, and names must be
// ones the kernel takes.
func checkNetDevices(s *specs.Spec) error {
	if len(s.Linux.NetDevices) == 0 {
		return nil
	}
	if _, ok := findNamespace(s, specs.NetworkNamespace); !ok {
		return errors.New("linux.netDevices: the container shares the host's network namespace; moving interfaces needs a network namespace of its own")
	}
	for _, host := range sortedKeys(s.Linux.NetDevices) {
		for i, name := range []string{host, s.Linux.NetDevices[host].Name} {
			if i == 1 && name == "" {
				continue // keeps the host's name
			}
			if !netDeviceNameRE().MatchString(name) || name == "." || name == ".." {
				return fmt.Errorf("linux.netDevices[%s]: %q is not a valid interface name", host, name)
			}
		}
	}
	return nil
}
