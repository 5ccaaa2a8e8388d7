package engines

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocker: dockerd (which starts its own containerd and the runc v2
// shim) with a "runtimes" entry for kan, all its state under a temporary
// directory, no bridge and no iptables.
func TestDocker(t *testing.T) {
	skipIfHostEngine(t)
	dir := filepath.Join(work, "docker")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	execRoot := filepath.Join(dir, "exec")
	conf, _ := json.MarshalIndent(map[string]any{
		"data-root":      filepath.Join(dir, "data"),
		"exec-root":      execRoot,
		"pidfile":        filepath.Join(dir, "docker.pid"),
		"hosts":          []string{"unix://" + sock},
		"storage-driver": "overlay2",
		"exec-opts":      []string{"native.cgroupdriver=cgroupfs"},
		"bridge":         "none",
		"iptables":       false,
		"ip6tables":      false,
		"ip-forward":     false,
		"ip-masq":        false,
		"runtimes": map[string]any{
			"kan":     map[string]string{"path": kanBin},
			"runcref": map[string]string{"path": runcBin},
		},
	}, "", "  ")
	confPath := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	// docker names the runtime by its entry; runc's is "runcref" so that
	// RUNC_BINARY is the one used.
	name := func(rt string) string {
		if rt == "kan" {
			return "kan"
		}
		return "runcref"
	}
	e := &cliEngine{
		name:   "docker",
		bin:    "/usr/bin/docker", // /usr/local/bin/docker may be a newer client than Debian's daemon
		image:  "bbox",
		global: func(string) []string { return []string{"-H", "unix://" + sock} },
		// Docker's defaults, its seccomp profile included: only the
		// runtime and the network (none: no bridge on this host) chosen.
		runOpts: func(rt string) []string {
			return []string{"--runtime", name(rt), "--network", "none"}
		},
		stateRoot:    func(rt string) string { return filepath.Join(execRoot, "runtime-"+name(rt), "moby") },
		updateMemory: []string{"update", "--memory", "64m", "--memory-swap", "128m"},
		updatePids:   []string{"update", "--pids-limit", "100"},
		statsFormat:  "{{.Name}} {{.PIDs}}",
	}
	log := filepath.Join(dir, "dockerd.log")
	startDaemon(t, log, "dockerd", "--config-file", confPath)
	waitFor(t, "dockerd", func() bool { return e.cmd(t, "kan", "version").code == 0 })
	t.Cleanup(func() {
		if ids := strings.Fields(e.cmd(t, "kan", "ps", "-aq").stdout); len(ids) > 0 {
			e.cmd(t, "kan", append([]string{"rm", "-f"}, ids...)...)
		}
		if t.Failed() {
			t.Logf("dockerd log:\n%s", logTail(log))
		}
	})
	e.must(t, "kan", "import", "--change", `CMD ["/bin/sh"]`, rootfsTar, e.image)
	forRuntimes(t, func(t *testing.T, rt string) {
		cliScenario(t, e, rt)
		dockerStartErrors(t, e, rt)
	})
}

// dockerStartErrors: Docker turns the runtime's error when the program
// cannot be started into the exit status a shell would give, by matching
// runc's words (translateContainerdStartErr): "executable file not found"
// is 127, "permission denied" 126. kan's errors keep those words.
func dockerStartErrors(t *testing.T, e *cliEngine, rt string) {
	for _, c := range []struct {
		step, prog, phrase string
		code               int
	}{
		{"run_missing_program", "no-such-program", "executable file not found in $PATH", 127},
		{"run_not_executable", "/etc/passwd", "permission denied", 126},
	} {
		step(t, c.step, func(t *testing.T) {
			name := c.step + "-" + rt
			t.Cleanup(func() { e.cmd(t, rt, "rm", "-f", name) })
			args := append(append([]string{"run"}, e.runOpts(rt)...), "--name", name, e.image, c.prog)
			r := e.cmd(t, rt, args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.phrase) {
				t.Errorf("want exit %d and %q: %v", c.code, c.phrase, r)
			}
		})
	}
}
