//go:build sysvm

package sysvm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The engines on a systemd host with their default settings — the
// systemd cgroup driver, their seccomp profiles, their networks — with
// only the runtime's path changed, each step with kan and with runc
// (Debian's), side by side. Images come from the busybox rootfs
// (docker import, podman import, docker save for containerd): the VM has
// no network.

// Runtime binaries in the VM.
const (
	runcPath = "/usr/sbin/runc"
	crunPath = "/usr/bin/crun"
)

// cmdResult runs a command with a bound and returns what it did.
func cmdResult(t *testing.T, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, errf := tempFile(t), tempFile(t)
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %s: did not finish in 3 minutes", name, strings.Join(args, " "))
	}
	r := result{readBack(out), readBack(errf), 0}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	return r
}

func must(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := cmdResult(t, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), r)
	}
	return r.stdout
}

var (
	matrixMu sync.Mutex
	matrix   = map[string]map[string]map[string]string{} // engine, step, runtime
	order    = map[string][]string{}
	engines  []string
)

// step runs one user-visible operation of engine with runtime rt as a
// subtest and records its result in the matrix.
func step(t *testing.T, engine, rt, name string, f func(t *testing.T)) bool {
	t.Helper()
	ok := t.Run(name, f)
	matrixMu.Lock()
	defer matrixMu.Unlock()
	if matrix[engine] == nil {
		matrix[engine] = map[string]map[string]string{}
		engines = append(engines, engine)
	}
	if matrix[engine][name] == nil {
		matrix[engine][name] = map[string]string{}
		order[engine] = append(order[engine], name)
	}
	matrix[engine][name][rt] = map[bool]string{true: "pass", false: "FAIL"}[ok]
	return ok
}

// printMatrix prints the engine × step matrix of the scenarios that ran
// (TestMain, after the tests).
func printMatrix() {
	if len(engines) == 0 {
		return
	}
	var b strings.Builder
	for _, e := range engines {
		rts := map[string]bool{}
		for _, s := range matrix[e] {
			for rt := range s {
				rts[rt] = true
			}
		}
		var names []string
		for rt := range rts {
			names = append(names, rt)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "\n%-8s %-22s", e, "step")
		for _, rt := range names {
			fmt.Fprintf(&b, " %-5s", rt)
		}
		b.WriteString("\n")
		for _, s := range order[e] {
			fmt.Fprintf(&b, "%-8s %-22s", "", s)
			for _, rt := range names {
				r := matrix[e][s][rt]
				if r == "" {
					r = "-"
				}
				fmt.Fprintf(&b, " %-5s", r)
			}
			b.WriteString("\n")
		}
	}
	fmt.Println(b.String())
}

var rootfsTarOnce sync.Once
var rootfsTarPath string

// rootfsTar is the busybox rootfs as a tar, for the engines' import.
func rootfsTar(t *testing.T) string {
	rootfsTarOnce.Do(func() {
		rootfsTarPath = "/tmp/kan-rootfs.tar"
		if out, err := exec.Command("tar", "-C", rootfsDir, "-cf", rootfsTarPath, ".").CombinedOutput(); err != nil {
			t.Fatalf("tar: %v %s", err, out)
		}
	})
	return rootfsTarPath
}

// startService unmasks and starts units the image keeps masked (they are
// slow to start under TCG, and only these tests need them).
func startService(t *testing.T, units ...string) {
	t.Helper()
	must(t, "systemctl", append([]string{"unmask", "--quiet"}, units...)...)
	must(t, "systemctl", append([]string{"restart"}, units...)...)
}

// unitOf asserts what systemd says of a container's scope, and returns
// its ActiveState.
func assertScope(t *testing.T, unit, slice string) {
	t.Helper()
	for prop, want := range map[string]string{"ActiveState": "active", "Delegate": "yes", "Slice": slice} {
		if got := show(t, unit, prop); got != want {
			t.Errorf("%s: %s = %q, want %q", unit, prop, got, want)
		}
	}
}

// dockerSetup: daemon.json with only the runtimes; Docker's defaults
// otherwise (systemd cgroup driver on this cgroup v2 host, its seccomp
// profile, the default bridge network).
var dockerOnce sync.Once

func dockerSetup(t *testing.T) {
	dockerOnce.Do(func() {
		os.MkdirAll("/etc/docker", 0o755)
		conf := fmt.Sprintf(`{"runtimes": {"kan": {"path": %q}, "crun": {"path": %q}}}`, kanBin, crunPath)
		if err := os.WriteFile("/etc/docker/daemon.json", []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		containerdSetup(t)
		startService(t, "docker.socket", "docker.service")
		must(t, "docker", "import", "--change", `CMD ["/bin/sh"]`, rootfsTar(t), "bbox")
	})
}

// dockerRuntime is the runtime's name for docker: runc is Docker's
// own default, "runc".
func dockerRuntime(rt string) string { return rt }

func TestDockerDefaults(t *testing.T) {
	dockerSetup(t)
	if info := must(t, "docker", "info", "-f", "{{.CgroupDriver}} {{.CgroupVersion}}"); strings.TrimSpace(info) != "systemd 2" {
		t.Fatalf("docker's cgroup driver and version: %q, want systemd 2 (its default here)", info)
	}
	for _, rt := range []string{"kan", "runc"} {
		t.Run(rt, func(t *testing.T) {
			cliEngineScenario(t, "docker", rt, []string{"--runtime", dockerRuntime(rt)}, "bbox",
				func(id string) (string, string) { return "docker-" + id + ".scope", "system.slice" },
				[]string{"update", "--memory", "64m", "--memory-swap", "128m"})
		})
	}
}

// podman: default containers.conf (cgroup_manager systemd, its seccomp
// profile, its default network), the runtime given by path.
var podmanOnce sync.Once

func TestPodmanDefaults(t *testing.T) {
	podmanOnce.Do(func() {
		must(t, "podman", "import", "--change", `CMD ["/bin/sh"]`, rootfsTar(t), "bbox")
	})
	if info := must(t, "podman", "info", "-f", "{{.Host.CgroupManager}} {{.Host.CgroupsVersion}}"); strings.TrimSpace(info) != "systemd v2" {
		t.Fatalf("podman's cgroup manager: %q, want systemd v2 (its default here)", info)
	}
	for _, rt := range []string{"kan", "runc"} {
		t.Run(rt, func(t *testing.T) {
			path := map[string]string{"kan": kanBin, "runc": runcPath}[rt]
			cliEngineScenario(t, "podman", rt, []string{"--runtime", path}, "localhost/bbox",
				func(id string) (string, string) { return "libpod-" + id + ".scope", "machine.slice" }, nil)
		})
	}
}

// cliEngineScenario: what a user of docker or podman does, each step
// asserted as the user sees it, and the container's scope as systemd
// shows it.
func cliEngineScenario(t *testing.T, engine, rt string, rtOpts []string, image string, scope func(id string) (unit, slice string), update []string) {
	bin := engine
	run := func(args ...string) []string { return append(append([]string{"run"}, rtOpts...), args...) }
	name := "c-" + rt
	cmdResult(t, bin, "rm", "-f", name)
	t.Cleanup(func() { cmdResult(t, bin, "rm", "-f", name) })
	step(t, engine, rt, "run_echo", func(t *testing.T) {
		if out := must(t, bin, run("--rm", image, "echo", "hi")...); out != "hi\n" {
			t.Errorf("output %q", out)
		}
	})
	step(t, engine, rt, "run_exit_code", func(t *testing.T) {
		if r := cmdResult(t, bin, run("--rm", image, "sh", "-c", "exit 3")...); r.code != 3 {
			t.Errorf("%v, want exit 3", r)
		}
	})
	step(t, engine, rt, "default_seccomp", func(t *testing.T) {
		if out := must(t, bin, run("--rm", image, "grep", "^Seccomp:", "/proc/self/status")...); !strings.Contains(out, "2") {
			t.Errorf("Seccomp %q, want 2 (a filter: the engine's default profile)", out)
		}
	})
	var id, unit string
	step(t, engine, rt, "run_detached_scope", func(t *testing.T) {
		id = strings.TrimSpace(must(t, bin, run("-d", "--name", name, image, "sleep", "999")...))
		u, slice := scope(id)
		unit = u
		assertScope(t, unit, slice)
		if cg := strings.TrimSpace(must(t, bin, "exec", name, "cat", "/proc/self/cgroup")); cg != "0::/" {
			t.Errorf("the container's /proc/self/cgroup %q, want 0::/ (its own cgroup namespace)", cg)
		}
	})
	step(t, engine, rt, "exec", func(t *testing.T) {
		if out := must(t, bin, "exec", name, "sh", "-c", "echo $((6*7))"); out != "42\n" {
			t.Errorf("exec output %q", out)
		}
	})
	step(t, engine, rt, "ps_top", func(t *testing.T) {
		if out := must(t, bin, "top", name); !strings.Contains(out, "sleep") {
			t.Errorf("top: %q", out)
		}
	})
	if update != nil {
		step(t, engine, rt, "update_memory", func(t *testing.T) {
			must(t, bin, append(update, name)...)
			if got := show(t, unit, "MemoryMax"); got != "67108864" {
				t.Errorf("%s MemoryMax after update: %q", unit, got)
			}
		})
	}
	step(t, engine, rt, "pause_unpause", func(t *testing.T) {
		must(t, bin, "pause", name)
		if st := strings.TrimSpace(must(t, bin, "inspect", "-f", "{{.State.Status}}", name)); st != "paused" {
			t.Errorf("status after pause: %q", st)
		}
		must(t, bin, "unpause", name)
		if st := strings.TrimSpace(must(t, bin, "inspect", "-f", "{{.State.Status}}", name)); st != "running" {
			t.Errorf("status after unpause: %q", st)
		}
	})
	step(t, engine, rt, "stop_rm", func(t *testing.T) {
		must(t, bin, "stop", "-t", "1", name)
		must(t, bin, "rm", name)
		if unit != "" {
			assertNoUnit(t, unit)
		}
	})
}

// containerdSetup writes containerd's config as kubeadm's guide has it
// for a systemd node (the CRI plugin's runc handler with SystemdCgroup =
// true), plus a kan handler and a crun one that differ only in the
// binary, and (re)starts containerd. Docker uses the same containerd.
var containerdOnce sync.Once

const containerdConfig = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:latest"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kan]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kan.options]
        BinaryName = "%s"
        Root = "/run/containerd/kan"
        SystemdCgroup = true
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
        BinaryName = "%s"
        Root = "/run/containerd/crun"
        SystemdCgroup = true
`

func containerdSetup(t *testing.T) {
	containerdOnce.Do(func() {
		os.MkdirAll("/etc/containerd", 0o755)
		if err := os.WriteFile("/etc/containerd/config.toml", []byte(fmt.Sprintf(containerdConfig, kanBin, crunPath)), 0o644); err != nil {
			t.Fatal(err)
		}
		startService(t, "containerd.service")
	})
}

// criImages puts the busybox image in containerd's k8s.io namespace, as
// the pause image too.
var criOnce sync.Once

func criSetup(t *testing.T) {
	dockerSetup(t) // docker import + save makes the image archive
	criOnce.Do(func() {
		// docker import gives an image no environment: the CRI plugin
		// passes on only the image's, so PATH is set here.
		path := "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin"
		must(t, "docker", "import", "--change", path, "--change", `CMD ["/bin/sh"]`, rootfsTar(t), "localhost/bbox:latest")
		// The pause image: the same rootfs, sleeping.
		must(t, "docker", "import", "--change", path, "--change", `CMD ["sleep", "2147483647"]`, rootfsTar(t), "localhost/pause:latest")
		must(t, "docker", "save", "-o", "/tmp/kan-images.tar", "localhost/bbox:latest", "localhost/pause:latest")
		must(t, "ctr", "-n", "k8s.io", "images", "import", "/tmp/kan-images.tar")
	})
}

func criBin(t *testing.T) string {
	p := os.Getenv("CRI_BINARY")
	if p == "" {
		t.Fatal("CRI_BINARY is unset (tests/sysvm/test.sh builds tests/engines/cri into the payload)")
	}
	return p
}

const criSock = "/run/containerd/containerd.sock"

// TestCRIKubeadm: containerd's CRI plugin driven as the kubelet with its
// systemd cgroup driver drives it: the pod's slice under kubepods.slice
// as the sandbox's cgroup parent, RuntimeDefault seccomp on the sandbox
// and the container, container resources, exec, logs, stop, remove.
func TestCRIKubeadm(t *testing.T) {
	criSetup(t)
	cri := criBin(t)
	for _, rt := range []string{"kan", "runc"} {
		t.Run(rt, func(t *testing.T) {
			uid := "pod" + rt + fmt.Sprint(os.Getpid())
			slice := "kubepods-burstable-" + uid + ".slice"
			logDir := t.TempDir()
			var pod, ctr string
			step(t, "cri", rt, "runp_pod_slice", func(t *testing.T) {
				pod = strings.TrimSpace(must(t, cri, "-a", criSock, "-cgroup-parent", slice, "runp", rt, "p-"+rt, logDir))
				assertScope(t, "cri-containerd-"+pod+".scope", slice)
				if got := show(t, slice, "ControlGroup"); got != "/kubepods.slice/kubepods-burstable.slice/"+slice {
					t.Errorf("pod slice's cgroup %q", got)
				}
			})
			if pod == "" {
				return
			}
			t.Cleanup(func() {
				cmdResult(t, cri, "-a", criSock, "stopp", pod)
				cmdResult(t, cri, "-a", criSock, "rmp", pod)
			})
			step(t, "cri", rt, "create_start_resources", func(t *testing.T) {
				ctr = strings.TrimSpace(must(t, cri, "-a", criSock, "-cgroup-parent", slice, "-memory", "67108864", "-cpu-shares", "512", "-cpu-quota", "50000",
					"create", pod, "localhost/bbox:latest", "c", "sh", "-c", "echo hello from "+rt+"; trap 'echo bye; exit 0' TERM; while :; do sleep 1; done"))
				must(t, cri, "-a", criSock, "start", ctr)
				unit := "cri-containerd-" + ctr + ".scope"
				assertScope(t, unit, slice)
				for prop, want := range map[string]string{"MemoryMax": "67108864", "CPUWeight": "20", "CPUQuotaPerSecUSec": "500ms"} {
					if got := show(t, unit, prop); got != want {
						t.Errorf("%s %s = %q, want %q", unit, prop, got, want)
					}
				}
			})
			if ctr == "" {
				return
			}
			step(t, "cri", rt, "seccomp_runtime_default", func(t *testing.T) {
				if out := must(t, cri, "-a", criSock, "exec", ctr, "grep", "^Seccomp:", "/proc/self/status"); !strings.Contains(out, "2") {
					t.Errorf("Seccomp %q, want 2", out)
				}
			})
			step(t, "cri", rt, "exec", func(t *testing.T) {
				if out := must(t, cri, "-a", criSock, "exec", ctr, "cat", "/sys/fs/cgroup/memory.max"); strings.TrimSpace(out) != "67108864" {
					t.Errorf("memory.max seen inside: %q", out)
				}
			})
			step(t, "cri", rt, "logs", func(t *testing.T) {
				waitUntil(t, "the container's log", func() bool {
					data, _ := os.ReadFile(filepath.Join(logDir, "c.log"))
					return strings.Contains(string(data), "hello from "+rt)
				})
			})
			step(t, "cri", rt, "stop_sigterm", func(t *testing.T) {
				must(t, cri, "-a", criSock, "stop", ctr, "10")
				if st := strings.TrimSpace(must(t, cri, "-a", criSock, "inspect", ctr)); st != "CONTAINER_EXITED 0" {
					t.Errorf("after stop: %q, want CONTAINER_EXITED 0 (the TERM trap ran)", st)
				}
			})
			step(t, "cri", rt, "remove", func(t *testing.T) {
				must(t, cri, "-a", criSock, "rm", ctr)
				must(t, cri, "-a", criSock, "stopp", pod)
				must(t, cri, "-a", criSock, "rmp", pod)
				assertNoUnit(t, "cri-containerd-"+ctr+".scope")
				assertNoUnit(t, "cri-containerd-"+pod+".scope")
			})
		})
	}
}

// TestCtr: ctr with the runc v2 shim and the runtime's binary, as it comes
// (SystemdCgroup false: cgroupfs), and with --runc-systemd-cgroup.
func TestCtr(t *testing.T) {
	criSetup(t)
	for _, rt := range []string{"kan", "runc"} {
		t.Run(rt, func(t *testing.T) {
			bin := map[string]string{"kan": kanBin, "runc": runcPath}[rt]
			base := []string{"-n", "k8s.io", "run", "--rm", "--runtime", "io.containerd.runc.v2", "--runc-binary", bin, "--runc-root", "/run/containerd/ctr-" + rt}
			step(t, "ctr", rt, "run_cgroupfs", func(t *testing.T) {
				if out := must(t, "ctr", append(base, "localhost/bbox:latest", "ctr-"+rt, "echo", "hi")...); out != "hi\n" {
					t.Errorf("output %q", out)
				}
			})
			step(t, "ctr", rt, "run_systemd_cgroup", func(t *testing.T) {
				if out := must(t, "ctr", append(base, "--runc-systemd-cgroup", "--cgroup", "system.slice:ctr:sd-"+rt, "--seccomp", "localhost/bbox:latest", "ctr-sd-"+rt, "cat", "/proc/self/cgroup")...); strings.TrimSpace(out) != "0::/system.slice/ctr-sd-"+rt+".scope" {
					t.Errorf("output %q", out)
				}
			})
		})
	}
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
