package libcontainer

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/spec"
)

// checkSupported refuses configs that ask for something this version of
// kan does not do, naming the field: a container must never run with a
// setting silently dropped.
func checkSupported(s *specs.Spec) error {
	l := s.Linux
	if _, ok := namespaces.Find(l.Namespaces, specs.MountNamespace); !ok {
		return fmt.Errorf("linux.namespaces: kan needs a mount namespace (type %q)", specs.MountNamespace)
	}
	if l.IntelRdt != nil {
		if mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("resctrl")); err != nil || len(mounts) == 0 {
			return errors.New("linux.intelRdt: this host has no resctrl filesystem mounted (no Intel RDT / AMD QoS)")
		}
		return errors.New("linux.intelRdt: not supported by this version of kan")
	}
	return nil
}

// checkSysctlNamespaces refuses a namespaced sysctl whose namespace the
// config joins by a path that is kan's own namespace (/proc/self/ns/net,
// or any other path to it): the init would write the runtime's, usually
// the host's, value. runc refuses it in the same words.
func checkSysctlNamespaces(sysctl map[string]string, plan *namespaces.Plan) error {
	for _, key := range slices.Sorted(maps.Keys(sysctl)) {
		ns, ok := spec.SysctlNamespace(key)
		if ok && plan.JoinsOwn(ns) {
			return fmt.Errorf("linux.sysctl: sysctl %q not allowed in host %s namespace: linux.namespaces joins the %s namespace kan itself runs in", key, ns, ns)
		}
	}
	return nil
}
