package libcontainer

import (
	"fmt"

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
	unsupported := []struct {
		field string
		set   bool
	}{
		{"linux.intelRdt", l.IntelRdt != nil},
	}
	for _, u := range unsupported {
		if u.set {
			return fmt.Errorf("%s: not supported by this version of kan", u.field)
		}
	}
	return nil
}
