package libcontainer

import (
	"os"
	"testing"

	"github.com/kan-runtime/kan/libcontainer/state"
)

func TestDeriveStatus(t *testing.T) {
	self := os.Getpid()
	start, ok := procStartTime(self)
	if !ok {
		t.Fatal("no start time for this process")
	}
	cases := []struct {
		name   string
		st     state.State
		locked bool
		want   string
	}{
		{"creating, creator alive", state.State{Public: state.Public{Status: Creating}}, false, Creating},
		{"creating, creator gone", state.State{Public: state.Public{Status: Creating}}, true, Stopped},
		{"no such pid", state.State{Public: state.Public{Status: Created, Pid: 1 << 30}}, false, Stopped},
		{"pid reused", state.State{Public: state.Public{Status: Running, Pid: self}, InitStartTime: start + 1, Started: true}, false, Stopped},
		{"alive, started", state.State{Public: state.Public{Status: Running, Pid: self}, InitStartTime: start, Started: true}, false, Running},
		// This test process is not named kan-init: its program "runs".
		{"alive, not started, program running", state.State{Public: state.Public{Status: Created, Pid: self}, InitStartTime: start}, false, Running},
	}
	for _, c := range cases {
		if got := deriveStatus(&c.st, c.locked); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
