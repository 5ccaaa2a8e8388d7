package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// freezeTimeout bounds the wait for the kernel to report a cgroup frozen:
// a task stuck in an uninterruptible sleep (e.g. on a dead NFS server)
// delays freezing for as long as it sleeps.
const freezeTimeout = 10 * time.Second

// Freeze stops every process in dir (cgroup.freeze) and returns once the
// kernel reports the whole cgroup frozen. If that does not happen in time
// the cgroup is thawed again, so that a failed pause leaves the container
// running rather than half stopped.
func Freeze(dir string) error {
	if err := setFrozen(dir, true); err != nil {
		setFrozen(dir, false)
		return err
	}
	return nil
}

// Thaw lets the processes of a frozen cgroup run again.
func Thaw(dir string) error {
	return setFrozen(dir, false)
}

func setFrozen(dir string, frozen bool) error {
	want, verb := "0", "thaw"
	if frozen {
		want, verb = "1", "freeze"
	}
	if err := writeFile(filepath.Join(dir, "cgroup.freeze"), want); err != nil {
		return fmt.Errorf("%s cgroup %s: %w", verb, dir, err)
	}
	// Writing cgroup.freeze only asks; "frozen 1" in cgroup.events says
	// every task has stopped. Polling with a growing delay costs little:
	// an idle cgroup freezes in well under a millisecond.
	delay := 100 * time.Microsecond
	for deadline := time.Now().Add(freezeTimeout); ; {
		state, err := eventValue(dir, "frozen")
		if err != nil {
			return fmt.Errorf("%s cgroup %s: %w", verb, dir, err)
		}
		if state == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s cgroup %s: the kernel did not report it done within %v", verb, dir, freezeTimeout)
		}
		time.Sleep(delay)
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}

// eventValue reads one key of cgroup.events.
func eventValue(dir, key string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("cgroup.events of %s has no %q", dir, key)
}
