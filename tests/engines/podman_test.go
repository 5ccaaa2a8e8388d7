package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestPodman: podman (no daemon; conmon calls the runtime) with
// --runtime PATH, storage and configuration under a temporary directory.
func TestPodman(t *testing.T) {
	skipIfHostEngine(t)
	dir := filepath.Join(work, "podman")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Host limits: root's hard RLIMIT_NOFILE is 20000 here and podman's
	// defaults are higher; no systemd; no pids limit of podman's own.
	// Podman's default seccomp profile stays.
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
pids_limit = 0
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = %[1]q
runtime_supports_json = ["kan", "runc", "crun"]
[engine.runtimes]
kan = [%[2]q]
`, filepath.Join(dir, "tmp"), kanBin)
	// The database and volumes go under graphroot by default. Not
	// static_dir: conmon's exit command (podman container cleanup) is
	// not given it, opens another database, and every attached run
	// then waits 20 s for an exit code.
	storage := fmt.Sprintf(`[storage]
driver = "overlay"
graphroot = %q
runroot = %q
`, filepath.Join(dir, "graph"), filepath.Join(dir, "run"))
	for name, data := range map[string]string{"containers.conf": conf, "storage.conf": storage} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := &cliEngine{
		name: "podman",
		bin:  "podman",
		env: []string{
			"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"),
			"CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf"),
		},
		image:  "localhost/bbox",
		global: func(rt string) []string { return []string{"--runtime", runtimePath(rt)} },
		// The default network makes a bridge, iptables rules and a netns.
		runOpts: func(string) []string { return []string{"--network=none"} },
		// podman passes no --root: the runtimes' defaults.
		stateRoot: func(rt string) string {
			if rt == "kan" {
				return "/run/kan"
			}
			return "/run/runc"
		},
		updateMemory: []string{"update", "--memory", "64m"},
		noPidsUpdate: "podman 4.3's update has no --pids-limit (cpu, memory and blkio only)",
		statsFormat:  "{{.Name}} {{.PIDS}}",
		statsFailure: "unable to load cgroup",
	}
	t.Cleanup(func() {
		e.cmd(t, "kan", "rm", "-af", "-t", "0")
		e.cmd(t, "kan", "rmi", "-af")
		unmountUnder(dir)
	})
	e.must(t, "kan", "import", "--change", `CMD ["/bin/sh"]`, rootfsTar, e.image)
	forRuntimes(t, func(t *testing.T, rt string) { cliScenario(t, e, rt) })
}
