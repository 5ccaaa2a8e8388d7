// Package namespaces turns the linux.namespaces list of a config into what
// kan's clone of `kan init` and its nsenter stage need: the clone flags of
// the namespaces to create and open handles on the ones to join. A namespace
// type absent from the list is shared with the host.
package namespaces

import (
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/nsenter"
)

type kind struct {
	proc string // name under /proc/<pid>/ns
	flag uintptr
}

var kinds = map[specs.LinuxNamespaceType]kind{
	specs.UserNamespace:    {"user", unix.CLONE_NEWUSER},
	specs.MountNamespace:   {"mnt", unix.CLONE_NEWNS},
	specs.PIDNamespace:     {"pid", unix.CLONE_NEWPID},
	specs.NetworkNamespace: {"net", unix.CLONE_NEWNET},
	specs.IPCNamespace:     {"ipc", unix.CLONE_NEWIPC},
	specs.UTSNamespace:     {"uts", unix.CLONE_NEWUTS},
	specs.CgroupNamespace:  {"cgroup", unix.CLONE_NEWCGROUP},
	specs.TimeNamespace:    {"time", unix.CLONE_NEWTIME},
}

// ProcName is the name of a namespace type under /proc/<pid>/ns.
func ProcName(t specs.LinuxNamespaceType) string { return kinds[t].proc }

// CloneFlag is the CLONE_NEW* flag of a namespace type.
func CloneFlag(t specs.LinuxNamespaceType) uintptr { return kinds[t].flag }

// nsGetNstype is the NS_GET_NSTYPE ioctl: it tells which kind of namespace
// an nsfs file is.
const nsGetNstype = 0xb703

// Plan is what nsenter does: create New, then join Join (user first).
type Plan struct {
	New  uintptr
	Join []Handle
}

// Handle is an open namespace file to join.
type Handle struct {
	Type specs.LinuxNamespaceType
	File *os.File
	// Own tells that the namespace is the one kan itself runs in: joining
	// it shares the runtime's (usually the host's) namespace.
	Own bool
}

// Prepare opens every namespace to join and checks that each file really
// is a namespace of the type the config says.
func Prepare(list []specs.LinuxNamespace) (*Plan, error) {
	p := &Plan{}
	for i, ns := range list {
		k, ok := kinds[ns.Type]
		if !ok {
			p.Close()
			return nil, fmt.Errorf("linux.namespaces[%d].type: unknown namespace type %q", i, ns.Type)
		}
		if ns.Path == "" {
			p.New |= k.flag
			continue
		}
		f, err := os.Open(ns.Path)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("linux.namespaces[%d].path: %w", i, err)
		}
		got, err := unix.IoctlRetInt(int(f.Fd()), nsGetNstype)
		if err != nil || uintptr(got) != k.flag {
			f.Close()
			p.Close()
			return nil, fmt.Errorf("linux.namespaces[%d].path: %s is not a %s namespace", i, ns.Path, ns.Type)
		}
		p.Join = append(p.Join, Handle{Type: ns.Type, File: f, Own: isOwn(f, k.proc)})
	}
	return p, nil
}

// isOwn tells whether the namespace file f is kan's own namespace of its
// kind: the same nsfs inode as /proc/self/ns/<proc>.
func isOwn(f *os.File, proc string) bool {
	var theirs, ours unix.Stat_t
	if unix.Fstat(int(f.Fd()), &theirs) != nil || unix.Stat("/proc/self/ns/"+proc, &ours) != nil {
		return false
	}
	return theirs.Dev == ours.Dev && theirs.Ino == ours.Ino
}

// JoinsOwn tells whether the plan joins kan's own namespace of type t.
func (p *Plan) JoinsOwn(t specs.LinuxNamespaceType) bool {
	for _, h := range p.Join {
		if h.Type == t && h.Own {
			return true
		}
	}
	return false
}

// CloneFlags returns the clone flags that create all of the plan's
// namespaces when the plan can be carried out by clone alone, and ok false
// when it needs nsenter: to join a namespace, to write the id maps of a new
// user namespace between its creation and the others', or to write the
// offsets of a new time namespace before a process enters it.
func (p *Plan) CloneFlags() (flags uintptr, ok bool) {
	if len(p.Join) > 0 || p.New&(unix.CLONE_NEWUSER|unix.CLONE_NEWTIME) != 0 {
		return 0, false
	}
	return p.New, true
}

// Env returns the environment for nsenter, given that the join handles will
// be passed to the child as the fds firstFd, firstFd+1, ... in order.
func (p *Plan) Env(firstFd int) []string {
	var join []string
	for i, h := range p.Join {
		join = append(join, fmt.Sprintf("%d:%s", firstFd+i, kinds[h.Type].proc))
	}
	return []string{
		nsenter.EnvJoin + "=" + strings.Join(join, ","),
		fmt.Sprintf("%s=%x", nsenter.EnvNew, p.New),
	}
}

// Files are the join handles in the order Env numbers them.
func (p *Plan) Files() []*os.File {
	files := make([]*os.File, len(p.Join))
	for i, h := range p.Join {
		files[i] = h.File
	}
	return files
}

// Close closes the join handles.
func (p *Plan) Close() {
	for _, h := range p.Join {
		h.File.Close()
	}
	p.Join = nil
}

// Find returns the entry for type t, if the config lists it.
func Find(list []specs.LinuxNamespace, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	for _, ns := range list {
		if ns.Type == t {
			return ns, true
		}
	}
	return specs.LinuxNamespace{}, false
}

// IsNew tells whether the config creates a namespace of type t.
func IsNew(list []specs.LinuxNamespace, t specs.LinuxNamespaceType) bool {
	ns, ok := Find(list, t)
	return ok && ns.Path == ""
}

// JoinProcess plans joining every namespace of process pid that is not
// also ours (joining one's own user namespace is an error, and the others
// would change nothing).
func JoinProcess(pid int) (*Plan, error) {
	p := &Plan{}
	for _, t := range []specs.LinuxNamespaceType{
		specs.UserNamespace, specs.MountNamespace, specs.PIDNamespace, specs.NetworkNamespace,
		specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace, specs.TimeNamespace,
	} {
		name := kinds[t].proc
		theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("namespace %s of pid %d: %w", name, pid, err)
		}
		ours, err := os.Readlink("/proc/self/ns/" + name)
		if err == nil && ours == theirs {
			continue
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("namespace %s of pid %d: %w", name, pid, err)
		}
		p.Join = append(p.Join, Handle{Type: t, File: f})
	}
	return p, nil
}
