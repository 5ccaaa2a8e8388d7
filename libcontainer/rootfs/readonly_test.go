package rootfs

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestReadonlyLater(t *testing.T) {
	m := func(dest string, opts ...string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: opts}
	}
	for _, c := range []struct {
		name   string
		mounts []specs.Mount
		want   []bool
	}{
		{"ro /dev: kan's nodes go under it", []specs.Mount{m("/dev", "ro")}, []bool{true}},
		{"rw /dev", []specs.Mount{m("/dev", "nosuid")}, []bool{false}},
		{"ro /dev, unclean path", []specs.Mount{m("dev/", "ro")}, []bool{true}},
		{"ro / holds /dev", []specs.Mount{m("/", "ro")}, []bool{true}},
		{"ro with a later mount under it", []specs.Mount{m("/data", "ro"), m("/data/sub")}, []bool{true, false}},
		{"rro: its recursion must not reach later mounts", []specs.Mount{m("/data", "rro"), m("/data/sub")}, []bool{false, false}},
		{"a read-only bind: a mount point would be made in the host's directory", []specs.Mount{
			{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro"}}, m("/data/sub")}, []bool{false, false}},
		{"a read-only bind of type none", []specs.Mount{
			{Destination: "/data", Type: "none", Source: "/srv", Options: []string{"bind", "ro"}}, m("/data/sub")}, []bool{false, false}},
		{"ro with a later mount beside it", []specs.Mount{m("/data", "ro"), m("/database")}, []bool{false, false}},
		{"ro with an earlier mount under it", []specs.Mount{m("/data/sub"), m("/data", "ro")}, []bool{false, false}},
		{"ro over the same destination later", []specs.Mount{m("/data", "ro"), m("/data")}, []bool{false, false}},
		{"ro then rw wins", []specs.Mount{m("/data", "ro", "rw"), m("/data/sub")}, []bool{false, false}},
		{"bad options are left to mountOne", []specs.Mount{m("/data", "ro", ""), m("/data/sub")}, []bool{false, false}},
	} {
		if got := readonlyLater(c.mounts); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
