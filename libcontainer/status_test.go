package libcontainer

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

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

func TestResourceNeeds(t *testing.T) {
	zero := int64(0)
	limit := int64(1 << 20)
	if n := resourceNeeds(nil); len(n) != 0 {
		t.Fatalf("nil: %v", n)
	}
	// Docker sends zero-valued structs: they ask for nothing.
	docker := resourceNeedsOf(&zero)
	if len(docker) != 0 {
		t.Fatalf("zero values: %v", docker)
	}
	if n := resourceNeedsOf(&limit); len(n) != 1 || n[0][0] != "memory" || n[0][1] != "linux.resources.memory.limit" {
		t.Fatalf("memory limit: %v", n)
	}
}

func resourceNeedsOf(limit *int64) [][2]string {
	return resourceNeeds(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: limit}, CPU: &specs.LinuxCPU{}, Pids: &specs.LinuxPids{}})
}
