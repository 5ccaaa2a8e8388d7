package libcontainer

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/config"
	"github.com/kan-runtime/kan/libcontainer/namespaces"
	"github.com/kan-runtime/kan/spec"
)

// TestInitOutside: which configs get the C init (rootfs built by kan) and
// which keep the Go init.
func TestInitOutside(t *testing.T) {
	hook := []specs.Hook{{Path: "/bin/true"}}
	for _, c := range []struct {
		name    string
		edit    func(*specs.Spec)
		noPivot bool
		want    bool
	}{
		{"default", func(*specs.Spec) {}, false, true},
		{"no pid namespace", func(s *specs.Spec) { drop(s, specs.PIDNamespace) }, false, true},
		{"--no-pivot", func(*specs.Spec) {}, true, false},
		{"user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, false, false},
		{"time namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		}, false, false},
		{"joined network namespace", func(s *specs.Spec) {
			drop(s, specs.NetworkNamespace)
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"})
		}, false, false},
		{"prestart hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Prestart: hook} }, false, false},
		{"createRuntime hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateRuntime: hook} }, false, false},
		{"createContainer hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateContainer: hook} }, false, false},
		{"startContainer hook", func(s *specs.Spec) { s.Hooks = &specs.Hooks{StartContainer: hook} }, false, false},
		{"poststart and poststop hooks", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststart: hook, Poststop: hook} }, false, true},
		{"idmapped mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/tmp", Options: []string{"bind", "idmap"}})
		}, false, false},
		{"tmpcopyup", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}})
		}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := spec.Default(false, 0, 0)
			c.edit(s)
			plan, err := namespaces.Prepare(s.Linux.Namespaces)
			if err != nil {
				t.Fatal(err)
			}
			defer plan.Close()
			cfg := &config.Container{Namespaces: s.Linux.Namespaces, Hooks: s.Hooks, Mounts: s.Mounts}
			if got := initOutside(cfg, plan, c.noPivot); got != c.want {
				t.Errorf("initOutside = %v, want %v", got, c.want)
			}
		})
	}
}

func drop(s *specs.Spec, t specs.LinuxNamespaceType) {
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == t })
}
