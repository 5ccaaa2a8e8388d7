package libcontainer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Container statuses, as the runtime spec names them.
const (
	Creating = "creating"
	Created  = "created"
	Running  = "running"
	Paused   = "paused"
	Stopped  = "stopped"
)

// initComm is the name `kan init` gives itself: while /proc/<pid>/comm
// says it, the init has not yet executed the user program.
const initComm = "kan-init"

// procStartTime reads field 22 of /proc/<pid>/stat, the process's start
// time in clock ticks since boot. A pid with another start time is another
// process that reused the number. ok is false when the process is gone or
// a zombie.
func procStartTime(pid int) (start uint64, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// comm (field 2) may hold spaces and parentheses: split after the
	// last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 || fields[0] == "Z" || fields[0] == "X" {
		return 0, false
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	return start, err == nil
}

// alive tells whether pid is still the process that was started at start.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	now, ok := procStartTime(pid)
	return ok && (start == 0 || now == start)
}

func procComm(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(data))
}

func frozen(cgroupDir string) bool {
	if cgroupDir == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(cgroupDir, "cgroup.freeze"))
	return err == nil && strings.TrimSpace(string(data)) == "1"
}
