//go:build vmtest

package vm

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestValidationSuite runs the runtime-tools validation tests that need
// cgroup controllers (tests/validation builds them; run.sh copies them to
// KAN_VALIDATION) against kan, here where the controllers are on v2. A
// test listed as PASS in expected-vm.txt must pass; the others are only
// reported (docs/conformance.md says why each fails).
func TestValidationSuite(t *testing.T) {
	dir := os.Getenv("KAN_VALIDATION")
	if dir == "" {
		t.Skip("KAN_VALIDATION unset: run.sh did not include the validation suite")
	}
	expected := map[string]bool{}
	if data, err := os.ReadFile(filepath.Join(dir, "expected-vm.txt")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
				expected[f[0]] = f[1] == "PASS"
			}
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, "bin"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	pass := 0
	var summary []string
	for _, name := range names {
		ok, reason := runValidationTest(t, dir, name)
		verdict := "FAIL"
		if ok {
			verdict = "PASS"
			pass++
		}
		summary = append(summary, fmt.Sprintf("%s %s %s", verdict, name, reason))
		if !ok && expected[name] {
			t.Errorf("validation %s: expected to pass, failed: %s", name, reason)
		}
	}
	t.Logf("validation suite in the VM: %d passed, %d failed\n%s", pass, len(names)-pass, strings.Join(summary, "\n"))

	// Other runtimes (run.sh's KAN_VM_RUNTIMES), for comparison only:
	// reported, never failing the test.
	for _, nr := range strings.Fields(os.Getenv("KAN_VALIDATION_RUNTIMES")) {
		rtName, rtPath, _ := strings.Cut(nr, "=")
		pass, summary = 0, nil
		for _, name := range names {
			ok, reason := runValidationTestWith(t, rtPath, dir, name)
			verdict := "FAIL"
			if ok {
				verdict = "PASS"
				pass++
			}
			summary = append(summary, fmt.Sprintf("%s %s %s", verdict, name, reason))
		}
		t.Logf("validation suite in the VM with %s: %d passed, %d failed\n%s", rtName, pass, len(names)-pass, strings.Join(summary, "\n"))
	}
}

var tapPlan = regexp.MustCompile(`^1\.\.(\d+)`)

// runValidationTest runs one test binary and judges its TAP output the
// way tests/validation/run.sh does: every document's plan met, no
// top-level "not ok" without TODO/SKIP, no bail out, exit status 0.
func runValidationTest(t *testing.T, dir, name string) (bool, string) {
	return runValidationTestWith(t, kanBin, dir, name)
}

// runValidationTestWith runs one test binary against a given runtime.
func runValidationTestWith(t *testing.T, runtime, dir, name string) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "bin", name))
	cmd.Dir = filepath.Join(dir, "run")
	cmd.Env = append(os.Environ(), "RUNTIME="+runtime, "TMPDIR="+tmp)
	// A runtime's leftover process can hold the output pipes after the
	// test is killed: do not wait for them forever.
	cmd.WaitDelay = 10 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return false, fmt.Sprintf("exit: %v; %s; stderr: %s", err, firstLine(out, "not ok"), lastLines(stderr.String(), 3))
	}
	docs, planned, plan, n := 0, false, 0, 0
	endDoc := func() string {
		defer func() { planned, plan, n = false, 0, 0 }()
		switch {
		case !planned:
			return "no TAP plan"
		case n != plan:
			return fmt.Sprintf("planned %d tests, ran %d", plan, n)
		}
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "TAP version"):
			if docs > 0 {
				if p := endDoc(); p != "" {
					return false, p
				}
			}
			docs++
		case tapPlan.MatchString(l):
			fmt.Sscanf(l, "1..%d", &plan)
			planned = true
		case strings.HasPrefix(l, "Bail out!"):
			return false, l
		case strings.HasPrefix(l, "not ok"):
			n++
			if !regexp.MustCompile(`(?i)#\s*(todo|skip)`).MatchString(l) {
				return false, l + "; stderr: " + lastLines(stderr.String(), 3)
			}
		case strings.HasPrefix(l, "ok"):
			n++
		}
	}
	if docs == 0 {
		return false, "no TAP output"
	}
	if p := endDoc(); p != "" {
		return false, p
	}
	return true, ""
}

func firstLine(out []byte, prefix string) string {
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
