package engines

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCRI: containerd's CRI plugin, driven as kubelet drives it (through
// tests/engines/cri, a small CRI client), with runtime handlers "kan" and
// "runc" of type io.containerd.runc.v2 whose options set BinaryName and
// Root: what a RuntimeClass with handler "kan" selects. Pods use host
// networking (no CNI here) and a pause image made of the busybox rootfs.
//
// Twice: with the CRI plugin's cgroups (as on a real node), and with
// disable_cgroup = true.
func TestCRI(t *testing.T) {
	skipIfHostEngine(t)
	client := os.Getenv("CRI_BINARY")
	if client == "" {
		t.Skip("CRI_BINARY is not set (make engines builds tests/engines/cri)")
	}
	dir := filepath.Join(work, "cri")
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	pauseTar := filepath.Join(dir, "pause.tar")
	if err := writeDockerArchive(rootfsTar, pauseTar, "localhost/pause:latest", "sleep", "2147483647"); err != nil {
		t.Fatal(err)
	}
	for _, cg := range []struct {
		name    string
		disable bool
	}{{"cgroups", false}, {"disable_cgroup", true}} {
		t.Run(cg.name, func(t *testing.T) {
			c := startCRI(t, filepath.Join(dir, cg.name), client, cg.disable, pauseTar)
			forRuntimes(t, func(t *testing.T, rt string) { c.scenario(t, rt, cg.disable) })
		})
	}
}

type criEngine struct {
	client, sock, dir string
}

func startCRI(t *testing.T, dir, client string, disableCgroup bool, pauseTar string) *criEngine {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "containerd.sock")
	handler := func(name, bin string) string {
		return fmt.Sprintf(`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%[1]s]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.%[1]s.options]
        BinaryName = %[2]q
        Root = %[3]q
`, name, bin, filepath.Join(dir, "root-"+name))
	}
	// restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE and the
	// sandbox's oom_score_adj of -998 would fail (for runc as for kan).
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:latest"
  disable_apparmor = true
  restrict_oom_score_adj = true
  disable_cgroup = %t
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
%s%s`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", disableCgroup,
		filepath.Join(dir, "cni-bin"), filepath.Join(dir, "cni-conf"), handler("kan", kanBin), handler("runc", runcBin))
	confPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "containerd.log")
	startDaemon(t, log, "containerd", "--config", confPath)
	c := &criEngine{client: client, sock: sock, dir: dir}
	ctr := func(args ...string) result {
		return command(t, nil, "ctr", append([]string{"--address", sock, "--namespace", "k8s.io"}, args...)...)
	}
	waitFor(t, "containerd", func() bool { return ctr("version").code == 0 })
	t.Cleanup(func() {
		// What kubelet would remove, if a step failed half-way.
		for _, id := range strings.Fields(ctr("task", "ls", "-q").stdout) {
			ctr("task", "rm", "-f", id)
		}
		for _, id := range strings.Fields(ctr("container", "ls", "-q").stdout) {
			ctr("container", "rm", id)
		}
		unmountUnder(dir)
		if t.Failed() {
			t.Logf("containerd log:\n%s", logTail(log))
		}
	})
	for _, tar := range []string{imageTar, pauseTar} {
		if r := ctr("image", "import", tar); r.code != 0 {
			t.Fatalf("import %s: %v", tar, r)
		}
	}
	return c
}

func (c *criEngine) cri(t *testing.T, args ...string) result {
	t.Helper()
	return command(t, nil, c.client, append([]string{"-a", c.sock}, args...)...)
}

func (c *criEngine) must(t *testing.T, args ...string) string {
	t.Helper()
	r := c.cri(t, args...)
	if r.code != 0 {
		t.Fatalf("cri %v: %v", args, r)
	}
	return r.out()
}

func (c *criEngine) scenario(t *testing.T, rt string, disableCgroup bool) {
	logs := filepath.Join(c.dir, "logs", rt)
	os.MkdirAll(logs, 0o755)
	var pod, ctr string
	step(t, "run_pod", func(t *testing.T) {
		r := c.cri(t, "runp", rt, "pod-"+rt, logs)
		if rt == "kan" && !disableCgroup && !hasController(t, "cpu") {
			if r.code == 0 || !strings.Contains(r.stderr, "linux.resources.cpu.shares: the cpu controller is not available") {
				t.Fatalf("kan should refuse the sandbox's cpu.shares naming the cpu controller: %v", r)
			}
			t.Skipf("the CRI plugin gives every pod sandbox cpu.shares 2; this host's cgroup v2 hierarchy has no cpu controller and kan refuses (%s); runc uses the v1 one", firstLine(r.stderr))
		}
		if r.code != 0 {
			t.Fatalf("runp: %v", r)
		}
		pod = r.out()
	})
	if pod == "" {
		return
	}
	defer func() {
		c.cri(t, "stopp", pod)
		c.cri(t, "rmp", pod)
	}()
	step(t, "create_start", func(t *testing.T) {
		ctr = c.must(t, "create", pod, ctrImage, "app", "sh", "-c",
			`echo hello from the pod; trap "exit 7" TERM; while :; do sleep 0.2; done`)
		c.must(t, "start", ctr)
		if st := c.must(t, "inspect", ctr); st != "CONTAINER_RUNNING 0" {
			t.Errorf("after start: %q", st)
		}
		waitFor(t, "the container's log", func() bool {
			b, _ := os.ReadFile(filepath.Join(logs, "app.log"))
			return strings.Contains(string(b), "stdout F hello from the pod")
		})
	})
	if ctr == "" {
		return
	}
	step(t, "exec_sync", func(t *testing.T) {
		if r := c.cri(t, "exec", ctr, "sh", "-c", "echo in-exec; exit 4"); r.code != 4 || r.stdout != "in-exec\n" {
			t.Errorf("want exit 4 and \"in-exec\": %v", r)
		}
	})
	step(t, "seccomp_runtime_default", func(t *testing.T) {
		// The container asked for RuntimeDefault: containerd's default
		// profile is in force in it, and in what is exec'd into it.
		if r := c.cri(t, "exec", ctr, "grep", "^Seccomp:", "/proc/self/status"); r.code != 0 || !strings.Contains(r.stdout, "Seccomp:\t2") {
			t.Errorf("want the filter in force (Seccomp: 2): %v", r)
		}
	})
	step(t, "seccomp_unconfined", func(t *testing.T) {
		id := c.must(t, "-seccomp", "unconfined", "create", pod, ctrImage, "free", "sh", "-c", "grep ^Seccomp: /proc/self/status; sleep 1000")
		c.must(t, "start", id)
		defer func() { c.cri(t, "stop", id, "0"); c.cri(t, "rm", id) }()
		waitFor(t, "the unconfined container's log", func() bool {
			b, _ := os.ReadFile(filepath.Join(logs, "free.log"))
			return strings.Contains(string(b), "Seccomp:")
		})
		if b, _ := os.ReadFile(filepath.Join(logs, "free.log")); !strings.Contains(string(b), "Seccomp:\t0") {
			t.Errorf("an Unconfined container runs without a filter: %q", b)
		}
	})
	step(t, "stop", func(t *testing.T) {
		start := time.Now()
		c.must(t, "stop", ctr, "10")
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("stop took %v: SIGTERM did not stop the container", d)
		}
		if st := c.must(t, "inspect", ctr); st != "CONTAINER_EXITED 7" {
			t.Errorf("after stop: %q, want CONTAINER_EXITED 7 (the TERM trap)", st)
		}
	})
	step(t, "remove", func(t *testing.T) {
		c.must(t, "rm", ctr)
		c.must(t, "stopp", pod)
		c.must(t, "rmp", pod)
		r := command(t, nil, runtimePath(rt), "--root", filepath.Join(c.dir, "root-"+rt, "k8s.io"), "list", "-q")
		if strings.Contains(r.stdout, pod) || strings.Contains(r.stdout, ctr) {
			t.Errorf("%s still lists the pod or its container: %v", rt, r)
		}
	})
}
