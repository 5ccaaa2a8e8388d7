package libcontainer

import (
	"fmt"
	"maps"
	"slices"

	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/spec"
)

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
