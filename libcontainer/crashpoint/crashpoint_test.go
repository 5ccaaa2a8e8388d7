package crashpoint

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestHit: without the variable, or with another point named, Hit does
// nothing; with this point named, the process dies of SIGKILL there.
func TestHit(t *testing.T) {
	if os.Getenv("CRASHPOINT_CHILD") != "" {
		Hit("other")
		Hit("here")
		os.Exit(0) // not reached
	}
	Hit("here") // the test process itself has no KAN_TEST_CRASH_AT
	cmd := exec.Command(os.Args[0], "-test.run=^TestHit$")
	cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", Env+"=here")
	err := cmd.Run()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child with %s=here: %v, want death by SIGKILL", Env, err)
	}
}
