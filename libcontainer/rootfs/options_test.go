package rootfs

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"rbind", "ro", "nosuid", "rw", "rslave", "mode=755", "size=1m", "newinstance", "rro", "rnoatime"})
	if err != nil {
		t.Fatal(err)
	}
	if o.flags != unix.MS_BIND|unix.MS_REC|unix.MS_NOSUID {
		t.Errorf("flags %#x", o.flags)
	}
	if o.cleared&unix.MS_RDONLY == 0 {
		t.Error("rw after ro should clear MS_RDONLY")
	}
	if len(o.propagation) != 1 || o.propagation[0] != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("propagation %v", o.propagation)
	}
	if o.dataString() != "mode=755,size=1m,newinstance" {
		t.Errorf("data %q", o.dataString())
	}
	if o.attrSet != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOATIME || o.attrClr&unix.MOUNT_ATTR__ATIME == 0 {
		t.Errorf("attrs set %#x clr %#x", o.attrSet, o.attrClr)
	}
	for _, bad := range []string{""} {
		if _, err := parseOptions([]string{bad}); err == nil {
			t.Errorf("option %q accepted", bad)
		}
	}
}
