package libcontainer

import (
	"errors"
	"fmt"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/namespaces"
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
