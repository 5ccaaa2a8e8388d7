package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The checkpoint and restore paths that need no working criu: criu
// missing or failing, bad flags, a container in the wrong state. What
// needs a working criu runs in the systemd test VM (tests/sysvm,
// checkpoint_test.go), whose kernel criu's own check accepts.

// kanPath runs kan with PATH set to path (where criu is looked up).
func (e *env) kanPath(path string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(kanBin, append([]string{"--root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+path)
	dir := e.t.TempDir()
	out, _ := os.Create(filepath.Join(dir, "out"))
	defer out.Close()
	errf, _ := os.Create(filepath.Join(dir, "err"))
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	o, _ := os.ReadFile(out.Name())
	s, _ := os.ReadFile(errf.Name())
	return result{string(o), string(s), code}
}

// fakeCriu makes a directory with a criu that fails every request, and
// whose `criu check` says why, as criu does on a kernel it cannot work
// with (this host's: its vDSO check fails).
func fakeCriu(t *testing.T) string {
	dir := t.TempDir()
	script := "#!/bin/sh\nif [ \"$1\" = check ]; then echo 'Error (criu/vdso.c:42): fake: vDSO parsing failed' >&2; exit 1; fi\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "criu"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runningCounter starts a detached container and returns its id.
func (e *env) runningCounter(t *testing.T) (string, *bundle) {
	b := newBundle(t, "sh", "-c", "while :; do sleep 1; done")
	id := newID(t)
	e.must("run", "-d", "--bundle", b.write(t), id)
	t.Cleanup(func() {
		e.kan("delete", "-f", id)
		e.assertGone(id)
	})
	return id, b
}

func TestCheckpointHelp(t *testing.T) {
	e := newEnv(t)
	// Podman probes for checkpoint support with this.
	for _, c := range []string{"checkpoint", "restore"} {
		r := e.kan(c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "--image-path") {
			t.Errorf("kan %s --help: %v", c, r)
		}
	}
	// kan features says checkpoint works only where criu is.
	for _, tc := range []struct {
		path string
		want bool
	}{{"/nonexistent", false}, {fakeCriu(t), true}} {
		r := e.kanPath(tc.path, "features")
		var f struct{ Annotations map[string]string }
		if err := json.Unmarshal([]byte(r.stdout), &f); err != nil {
			t.Fatalf("features: %v: %v", err, r)
		}
		if got := f.Annotations["io.github.kan-runtime.kan.checkpoint.enabled"] == "true"; got != tc.want {
			t.Errorf("PATH=%s: checkpoint.enabled is %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestCheckpointWithoutCriu: without criu, checkpoint and restore fail
// saying so; the container keeps running, and a restore leaves nothing.
func TestCheckpointWithoutCriu(t *testing.T) {
	e := newEnv(t)
	id, b := e.runningCounter(t)
	images := t.TempDir()
	r := e.kanPath("/nonexistent", "checkpoint", "--image-path", images, id)
	if r.code == 0 || !strings.Contains(r.stderr, "need criu") {
		t.Errorf("checkpoint without criu: %v", r)
	}
	if s := e.status(id); s != "running" {
		t.Errorf("after a failed checkpoint the container is %s", s)
	}
	id2 := newID(t)
	r = e.kanPath("/nonexistent", "restore", "-d", "--image-path", images, "--bundle", b.dir, id2)
	if r.code == 0 || !strings.Contains(r.stderr, "need criu") {
		t.Errorf("restore without criu: %v", r)
	}
	e.assertGone(id2)
}

// TestCheckpointCriuFails: a criu that fails (here, as on this host's
// kernel, its own check too) fails the checkpoint with an error naming
// criu, its log and what `criu check` says; the container keeps running.
// A restore that fails so leaves nothing: no state, cgroup or mount.
func TestCheckpointCriuFails(t *testing.T) {
	e := newEnv(t)
	id, b := e.runningCounter(t)
	fake := fakeCriu(t)
	images := t.TempDir()
	r := e.kanPath(fake+":/usr/bin:/bin", "checkpoint", "--image-path", images, id)
	if r.code == 0 {
		t.Fatalf("checkpoint with a failing criu succeeded: %v", r)
	}
	for _, want := range []string{"criu", filepath.Join(images, "dump.log"), "criu check` fails", "vDSO"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error does not say %q: %v", want, r)
		}
	}
	if s := e.status(id); s != "running" {
		t.Errorf("after a failed checkpoint the container is %s", s)
	}
	// A restore reaches criu only with a checkpoint to restore.
	id2 := newID(t)
	r = e.kanPath(fake+":/usr/bin:/bin", "restore", "-d", "--image-path", images, "--bundle", b.dir, id2)
	if r.code == 0 || !strings.Contains(r.stderr, "no checkpoint there") {
		t.Errorf("restore from an empty directory: %v", r)
	}
	e.assertGone(id2)
	if err := os.WriteFile(filepath.Join(images, "inventory.img"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := hostMounts(t)
	r = e.kanPath(fake+":/usr/bin:/bin", "restore", "-d", "--image-path", images, "--bundle", b.dir, id2)
	if r.code == 0 || !strings.Contains(r.stderr, "criu") || !strings.Contains(r.stderr, "restore.log") {
		t.Errorf("restore with a failing criu: %v", r)
	}
	e.assertGone(id2)
	if after := hostMounts(t); after != before {
		t.Errorf("the failed restore changed the host's mounts:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestCheckpointRefusals: bad flags and containers in the wrong state are
// refused before criu runs, naming the flag or the state; nothing changes.
func TestCheckpointRefusals(t *testing.T) {
	e := newEnv(t)
	id, b := e.runningCounter(t)
	fake := fakeCriu(t) // found, but never reached
	images := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--manage-cgroups-mode", "bogus"}, "--manage-cgroups-mode"},
		{[]string{"--empty-ns", "ipc"}, "--empty-ns"},
		{[]string{"--parent-path", "/abs"}, "--parent-path must be relative"},
		{[]string{"--parent-path", "../missing"}, "--parent-path"},
		{[]string{"--page-server", "nohost"}, "--page-server"},
		{[]string{"--status-fd", "99"}, "--status-fd 99"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
	} {
		args := append(append([]string{"checkpoint", "--image-path", images}, tc.args...), id)
		r := e.kanPath(fake+":/usr/bin:/bin", args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("kan %v: want an error naming %q: %v", args, tc.want, r)
		}
		if s := e.status(id); s != "running" {
			t.Fatalf("after kan %v the container is %s", args, s)
		}
	}
	id2 := newID(t)
	r := e.kanPath(fake+":/usr/bin:/bin", "restore", "--manage-cgroups-mode", "bogus", "--image-path", images, "--bundle", b.dir, id2)
	if r.code == 0 || !strings.Contains(r.stderr, "--manage-cgroups-mode") {
		t.Errorf("restore with a bad mode: %v", r)
	}
	e.assertGone(id2)
	r = e.kanPath(fake+":/usr/bin:/bin", "checkpoint", "--image-path", images, "missing-container")
	if r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("checkpoint of a missing container: %v", r)
	}
	// Not running: created, then stopped.
	created := e.create(newBundle(t, "true"))
	r = e.kanPath(fake+":/usr/bin:/bin", "checkpoint", "--image-path", images, created)
	if r.code == 0 || !strings.Contains(r.stderr, "cannot be checkpointed in created state") {
		t.Errorf("checkpoint of a created container: %v", r)
	}
	e.must("start", created)
	e.waitStatus(created, "stopped")
	r = e.kanPath(fake+":/usr/bin:/bin", "checkpoint", "--image-path", images, created)
	if r.code == 0 || !strings.Contains(r.stderr, "cannot be checkpointed in stopped state") {
		t.Errorf("checkpoint of a stopped container: %v", r)
	}
	if entries, _ := os.ReadDir(images); len(entries) != 0 {
		t.Errorf("refused checkpoints wrote into the image directory: %v", entries)
	}
}
