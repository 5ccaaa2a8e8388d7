package libcontainer

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/config"
)

func TestPlanExecFields(t *testing.T) {
	oom := 5
	p := &specs.Process{
		Args: []string{"sh"}, Cwd: "/", OOMScoreAdj: &oom,
		User:            specs.User{UID: 7, GID: 8, AdditionalGids: []uint32{9}},
		Scheduler:       &specs.Scheduler{Policy: specs.SchedBatch, Nice: 3},
		IOPriority:      &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 4},
		ExecCPUAffinity: &specs.CPUAffinity{Final: "0-1"},
		Capabilities: &specs.LinuxCapabilities{
			Bounding: []string{"CAP_KILL", "CAP_CHOWN"}, Permitted: []string{"CAP_KILL"},
			Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL", "CAP_CHOWN"},
		},
	}
	l := &specs.Linux{MemoryPolicy: &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}}
	proc, err := config.NewProcess(p, l)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planExec(proc, execFds(2, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	// fds: sync socket at 3+2, root after it, console socket after that.
	if plan.FirstCloexecFd != 5 || plan.RootFd != 6 || plan.ConsoleFd != 7 {
		t.Errorf("fd numbers: %+v", plan)
	}
	// Ambient keeps only what is permitted and inheritable.
	if plan.Bounding != 1<<unix.CAP_KILL|1<<unix.CAP_CHOWN || plan.Permitted != 1<<unix.CAP_KILL || plan.Ambient != 1<<unix.CAP_KILL {
		t.Errorf("capability masks: bounding %#x permitted %#x ambient %#x", plan.Bounding, plan.Permitted, plan.Ambient)
	}
	if plan.Scheduler == nil || plan.Scheduler.Policy != 3 || plan.Scheduler.Nice != 3 ||
		plan.IOPriority == nil || *plan.IOPriority != 2<<13|4 || plan.OOMScoreAdj == nil || *plan.OOMScoreAdj != 5 ||
		plan.CPUAffinity == nil || plan.CPUAffinity[0] != 3 || plan.MemoryPolicy == nil || plan.MemoryPolicy.Nodes[0] != 1 {
		t.Errorf("attributes: %+v", plan)
	}
	if !strings.Contains(plan.SchedulerDesc, "process.scheduler") || !strings.Contains(plan.GroupsDesc, "[9]") {
		t.Errorf("error names: %q %q", plan.SchedulerDesc, plan.GroupsDesc)
	}
	if _, err := plan.Marshal(); err != nil {
		t.Fatal(err)
	}
	// A NUL would cut a string short in C: refused.
	plan.Env = []string{"A=b\x00c"}
	if _, err := plan.Marshal(); err == nil {
		t.Error("a NUL in the environment was accepted")
	}
}

// TestChildFds: the fds of startInit's child, as the plans name them.
func TestChildFds(t *testing.T) {
	for _, c := range []struct {
		name string
		got  childFds
		want childFds
	}{
		{"init, 2 preserved, terminal", initFds(2, true), childFds{Sync: 5, Fifo: 6, Done: 7, Root: -1, Console: 8}},
		{"init, no terminal", initFds(0, false), childFds{Sync: 3, Fifo: 4, Done: 5, Root: -1, Console: -1}},
		{"exec, 2 preserved, terminal", execFds(2, true), childFds{Sync: 5, Fifo: -1, Done: -1, Root: 6, Console: 7}},
		{"exec, no terminal", execFds(0, false), childFds{Sync: 3, Fifo: -1, Done: -1, Root: 4, Console: -1}},
	} {
		if c.got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
		}
	}
}
