// Package crashpoint lets the crash-safety tests kill kan at a named step.
//
// When the environment variable KAN_TEST_CRASH_AT names a point that kan
// reaches, kan sends itself SIGKILL there: no deferred cleanup, no
// buffered write, exactly as if the machine's OOM killer or an operator's
// kill -9 had struck at that instant. Without the variable (always, outside
// tests) Hit is a string comparison and nothing else. The variable is not
// passed to `kan init` (its environment is built from scratch), so only
// the command under test dies.
//
// The points, in the order a container's life meets them, are listed in
// Points; tests/integration/crash_test.go kills kan at every one of them.
package crashpoint

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Env is the variable that names the point to crash at.
const Env = "KAN_TEST_CRASH_AT"

// Points are all the named points, by command.
var Points = map[string][]string{
	"create": {
		"create-state-tmpdir", // state dir made under its temporary name, locked
		"create-state-dir",    // state dir renamed into place, nothing saved yet
		"create-state-saved",  // state.json (cgroup path) saved, no cgroup yet
		"create-cgroup",       // cgroup made, resources set
		"create-fifos",        // exec fifos made
		"create-init-started", // kan init cloned into the cgroup, pid not known yet
		"create-pid-saved",    // the init's pid and start time saved
		"create-ready",        // the init reported ready, status not saved yet
		"create-created",      // status created saved, pid file not yet written
		"save-tmp-written",    // (any save) temporary file written, not renamed
		"save-partial",        // (any save) half of the temporary file written
	},
	// With --systemd-cgroup, create also passes these, between
	// create-state-saved and create-cgroup.
	"create --systemd-cgroup": {
		"create-unit-holder",  // the scope's holder process started, no unit asked for
		"create-unit-started", // systemd's job for the unit done, resources not yet written
	},
	"start": {
		"start-released", // the init executes the program, status not saved
		"start-saved",    // status running saved, poststart hooks not run
	},
	"exec": {
		"exec-cloned",  // the exec stage cloned into the cgroup, pid not known
		"exec-pid",     // the exec stage forked into the container
		"exec-running", // the program runs, pid file not written
	},
	"delete": {
		"delete-killed",         // the init got SIGKILL
		"delete-cgroup-removed", // the cgroup is gone, the state dir is not
		"delete-dir-removed",    // the state dir is gone, poststop hooks not run
	},
}

// Hit kills kan with SIGKILL if KAN_TEST_CRASH_AT is name.
func Hit(name string) {
	if v, ok := os.LookupEnv(Env); ok && v == name {
		unix.Kill(os.Getpid(), unix.SIGKILL)
		for { // SIGKILL cannot be caught; wait for it to land
			time.Sleep(time.Second)
		}
	}
}
