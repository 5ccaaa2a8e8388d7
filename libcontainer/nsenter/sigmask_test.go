package nsenter

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	for _, c := range []struct {
		args     []string
		name     string
		detached bool
	}{
		{[]string{"run", "c1"}, "run", false},
		{[]string{"--root", "run", "state", "c1"}, "state", false},
		{[]string{"--debug", "--log-format", "json", "rm", "c1"}, "rm", false},
		{[]string{"--root=/x", "create", "c1"}, "create", false},
		{[]string{"--help", "run"}, "", false},
		{[]string{"-v"}, "", false},
		{[]string{"--generate-shell-completion"}, "", false},
		{[]string{"help", "run"}, "help", false},
		{nil, "", false},
		{[]string{"run", "-d", "c1"}, "run", true},
		{[]string{"--root", "/r", "run", "--detach", "c1"}, "run", true},
		{[]string{"exec", "--detach=true", "c1", "sh"}, "exec", true},
		{[]string{"exec", "c1", "--", "sh", "-d"}, "exec", false},
		// A -d before the command is not run's.
		{[]string{"-d", "run", "c1"}, "run", false},
	} {
		name, detached := CommandLine(c.args)
		if name != c.name || detached != c.detached {
			t.Errorf("CommandLine(%q) = %q, %v; want %q, %v", c.args, name, detached, c.name, c.detached)
		}
	}
}

// TestUnheldWithoutHolding: a process that holds no signals (a test
// binary's command line names no run) starts programs as they are.
func TestUnheldWithoutHolding(t *testing.T) {
	if _, held := HeldSignals(); held {
		t.Fatal("the test binary holds its signals")
	}
	if env := ChildEnv(); env != nil {
		t.Fatalf("ChildEnv() = %q, want none", env)
	}
	cmd := exec.Command("/bin/true")
	if err := Unheld(cmd); err != nil || cmd.Path != "/bin/true" || cmd.Env != nil {
		t.Fatalf("Unheld changed cmd: %v, %q, %q", err, cmd.Path, cmd.Env)
	}
}

// TestSigmaskVariable runs this test binary with _KAN_SIGMASK: its
// constructor sets the mask, which /proc/self/status shows; with
// _KAN_EXEC too, the program named is executed with that mask and
// without either variable.
func TestSigmaskVariable(t *testing.T) {
	const mask = "4a02" // SIGUSR1, SIGPIPE, SIGTERM, SIGWINCH
	run := func(program string, env []string, args ...string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), env...)
		if program != "" {
			cmd.Env = append(cmd.Env, envExec+"="+program)
		}
		if args != nil {
			cmd.Args = args
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("/bin/grep", []string{EnvSigmask + "=" + mask}, "grep", "SigBlk", "/proc/self/status")
	if err != nil || out != "SigBlk:\t0000000000004a02\n" {
		t.Errorf("mask through _KAN_EXEC: %v, %q", err, out)
	}
	out, err = run("/usr/bin/env", []string{EnvSigmask + "=" + mask, "KEPT=1"}, "env")
	if err != nil || strings.Contains(out, "_KAN_") || !strings.Contains(out, "KEPT=1\n") {
		t.Errorf("the environment through _KAN_EXEC: %v, %s", err, out)
	}
	out, err = run("/nonexistent", []string{EnvSigmask + "=0"})
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 127 || !strings.Contains(out, "kan: execute /nonexistent: ") {
		t.Errorf("a program that cannot be executed: %v, %s", err, out)
	}
}
