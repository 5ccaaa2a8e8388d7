package libcontainer

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ptr[T any](v T) *T { return &v }

func TestMergeResources(t *testing.T) {
	old := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(100 << 20)), Swap: ptr(int64(200 << 20))},
		CPU:     &specs.LinuxCPU{Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Cpus: "0"},
		BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1}}},
		Unified: map[string]string{"memory.high": "1000000"},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	upd := &specs.LinuxResources{
		// Zero values, as Docker sends them, change nothing.
		Memory:  &specs.LinuxMemory{Limit: ptr(int64(300 << 20)), Swap: ptr(int64(0))},
		CPU:     &specs.LinuxCPU{Period: ptr(uint64(200000))},
		Pids:    &specs.LinuxPids{Limit: ptr(int64(10))},
		BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 2}, {LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 3}}},
		Unified: map[string]string{"pids.max": "5"},
	}
	m := mergeResources(old, upd)
	if *m.Memory.Limit != 300<<20 || *m.Memory.Swap != 200<<20 {
		t.Errorf("memory: limit %d swap %d", *m.Memory.Limit, *m.Memory.Swap)
	}
	if *m.CPU.Quota != 50000 || *m.CPU.Period != 200000 || m.CPU.Cpus != "0" {
		t.Errorf("cpu: %+v", m.CPU)
	}
	if *m.Pids.Limit != 10 {
		t.Errorf("pids: %d", *m.Pids.Limit)
	}
	if tr := m.BlockIO.ThrottleReadBpsDevice; len(tr) != 2 || tr[0].Rate != 2 || tr[1].Rate != 3 {
		t.Errorf("throttle: %+v", tr)
	}
	if len(m.Unified) != 2 || len(m.Devices) != 1 {
		t.Errorf("unified %v devices %v", m.Unified, m.Devices)
	}
	// old is not changed.
	if *old.Memory.Limit != 100<<20 || len(old.Unified) != 1 {
		t.Errorf("old changed: %+v", old)
	}
}
