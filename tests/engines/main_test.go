// Package engines runs kan behind real container engines — Podman,
// containerd with ctr, and Docker — as installed from Debian
// (tests/engines/deps.sh), and the same steps with runc for comparison.
// It asserts what a user of each engine sees: output, exit codes, states.
//
// Each engine is set up with all its state under one temporary directory:
// the tests start containerd and dockerd themselves, stop them by pid,
// unmount and remove what they made (cgroups, mounts, state directories)
// and check the host is left as it was found. No registry is used: the
// image is a busybox root filesystem (tests/mkrootfs.sh) imported from a
// tar.
//
// Environment: KAN_BINARY (required), RUNC_BINARY (/usr/sbin/runc),
// ENGINES_RUNTIMES ("kan runc": the runtimes each engine is tested with).
package engines

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	kanBin    string   // the runtime under test
	runcBin   string   // the reference runtime
	runtimes  []string // "kan", "runc"
	work      string   // every engine's state lives under here
	rootfsTar string   // the busybox rootfs as a tar (podman/docker import)
	imageTar  string   // the same as a docker-archive image (ctr import)
	unified   string   // the cgroup2 mount kan uses
	// hostEngine names an engine daemon of the host's own that is
	// running ("" if none): the tests then skip.
	hostEngine string
)

// liveHostEngine names the host's own engine daemon whose socket answers.
func liveHostEngine() string {
	for _, sock := range []string{"/run/docker.sock", "/run/containerd/containerd.sock", "/run/podman/podman.sock"} {
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			return sock
		}
	}
	return ""
}

// skipIfHostEngine skips the test where the host runs an engine itself.
func skipIfHostEngine(t *testing.T) {
	t.Helper()
	if hostEngine != "" {
		t.Skipf("an engine of the host's own is running (%s answers): these tests would take its state and cgroups for theirs", hostEngine)
	}
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	kanBin = os.Getenv("KAN_BINARY")
	if kanBin == "" || os.Geteuid() != 0 {
		fmt.Println("engine tests need root and KAN_BINARY=/path/to/kan (make engines)")
		return 1
	}
	runcBin = os.Getenv("RUNC_BINARY")
	if runcBin == "" {
		runcBin = "/usr/sbin/runc"
	}
	runtimes = strings.Fields(os.Getenv("ENGINES_RUNTIMES"))
	if len(runtimes) == 0 {
		runtimes = []string{"kan", "runc"}
	}
	// The tests snapshot and restore the engines' state directories and
	// cgroups: with an engine of the host's own running, they would take
	// its containers for theirs. Each test skips, naming it.
	if hostEngine = liveHostEngine(); hostEngine != "" {
		return m.Run()
	}
	var err error
	if unified, err = cgroup2Mount(); err != nil {
		fmt.Println(err)
		return 1
	}
	before := snapshotHost()
	work, err = os.MkdirTemp("", "kan-engines-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	os.Chmod(work, 0o755)
	code := func() int {
		rootfs := filepath.Join(work, "rootfs")
		if out, err := exec.Command("../mkrootfs.sh", rootfs).CombinedOutput(); err != nil {
			fmt.Printf("mkrootfs: %v\n%s", err, out)
			return 1
		}
		rootfsTar = filepath.Join(work, "rootfs.tar")
		if out, err := exec.Command("tar", "-C", rootfs, "-cf", rootfsTar, ".").CombinedOutput(); err != nil {
			fmt.Printf("tar: %v\n%s", err, out)
			return 1
		}
		imageTar = filepath.Join(work, "image.tar")
		if err := writeDockerArchive(rootfsTar, imageTar, "localhost/bbox:latest", "/bin/sh"); err != nil {
			fmt.Println("image:", err)
			return 1
		}
		code := m.Run()
		printMatrix()
		return code
	}()
	unmountUnder(work)
	if err := os.RemoveAll(work); err != nil {
		fmt.Println("cleanup:", err)
		code = 1
	}
	after := snapshotHost()
	if left := before.restore(after); len(left) > 0 {
		fmt.Printf("the host is not as it was found:\n  %s\n", strings.Join(left, "\n  "))
		code = 1
	}
	return code
}

// result of one command.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// out is stdout without surrounding blanks.
func (r result) out() string { return strings.TrimSpace(r.stdout) }

// command runs name with args, with no stdin, for at most two minutes.
// Output goes to files, not pipes: conmon and the shims may keep a copy of
// the client's stdio, and a pipe would not reach EOF until they exit.
func command(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var files [2]*os.File
	for i := range files {
		f, err := os.CreateTemp(work, "out-")
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(f.Name())
		defer f.Close()
		files[i] = f
	}
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	var out [2]string
	for i, f := range files {
		f.Seek(0, 0)
		b, _ := io.ReadAll(f)
		out[i] = string(b)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out; stdout %q, stderr %q", name, args, out[0], out[1])
	}
	return result{out[0], out[1], code}
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// runtimePath is the binary of a runtime name.
func runtimePath(rt string) string {
	if rt == "kan" {
		return kanBin
	}
	return runcBin
}

// forRuntimes runs f as a subtest for each runtime.
func forRuntimes(t *testing.T, f func(t *testing.T, rt string)) {
	for _, rt := range runtimes {
		t.Run(rt, func(t *testing.T) { f(t, rt) })
	}
}

// step runs one user-visible operation as a subtest; later steps still run
// when one fails (they share the container, so a failure may cascade, but
// the first failure is the one to read).
func step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	var sub *testing.T
	t.Run(name, func(t *testing.T) { sub = t; f(t) })
	res := "pass"
	switch {
	case sub.Failed():
		res = "FAIL"
	case sub.Skipped():
		res = "skip"
	}
	// t is Test<Engine>[/<setup>]/<runtime>
	full := strings.TrimPrefix(t.Name(), "Test")
	i := strings.LastIndexByte(full, '/')
	engine, rt := full[:i], full[i+1:]
	matrixMu.Lock()
	defer matrixMu.Unlock()
	if matrix[engine] == nil {
		matrix[engine] = map[string]map[string]string{}
		engineOrder = append(engineOrder, engine)
	}
	if matrix[engine][name] == nil {
		matrix[engine][name] = map[string]string{}
		stepOrder[engine] = append(stepOrder[engine], name)
	}
	matrix[engine][name][rt] = res
}

var (
	matrixMu    sync.Mutex
	matrix      = map[string]map[string]map[string]string{} // engine, step, runtime: result
	engineOrder []string
	stepOrder   = map[string][]string{}
)

// printMatrix prints what each step gave with each runtime.
func printMatrix() {
	for _, engine := range engineOrder {
		fmt.Printf("\n%-20s %-24s", engine, "step")
		for _, rt := range runtimes {
			fmt.Printf(" %-5s", rt)
		}
		fmt.Println()
		for _, s := range stepOrder[engine] {
			fmt.Printf("%-20s %-24s", "", s)
			for _, rt := range runtimes {
				r := matrix[engine][s][rt]
				if r == "" {
					r = "-"
				}
				fmt.Printf(" %-5s", r)
			}
			fmt.Println()
		}
	}
}

// startDaemon starts a daemon in the background with its output in log,
// and registers its stop: SIGTERM, then SIGKILL after 20 s.
func startDaemon(t *testing.T, log string, name string, args ...string) *exec.Cmd {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("%s (pid %d) did not stop on SIGINT: killing it", name, cmd.Process.Pid)
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

// logTail is the end of a daemon's log, for failure messages.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
