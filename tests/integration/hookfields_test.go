package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHookStateArgsEnv: every hook gets the state on stdin (the status its
// kind has, the id, pid, bundle and annotations), runs path with args as
// given (args[0] is not the path) and gets only env from the config.
func TestHookStateArgsEnv(t *testing.T) {
	e := newEnv(t)
	t.Setenv("KAN_TEST_LEAK", "from-kan")
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	logDir := t.TempDir()
	os.Chmod(logDir, 0o777)
	b := newBundle(t, "true")
	b.Spec.Annotations = map[string]string{"kan.test": "yes"}
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"bind"}})
	hook := func(kind, dir, path string) []specs.Hook {
		// busybox picks its applet from args[0]: sh, not busybox.
		script := `cat >` + dir + `/` + kind + `.json; echo "$0 $1|$(env | grep -v -e ^PWD= -e ^SHLVL= | sort | tr '\n' ' ')" >` + dir + `/` + kind + `.args`
		return []specs.Hook{{Path: path, Args: []string{"sh", "-c", script, "zero", "one"}, Env: []string{"KAN_HOOK=" + kind, "PATH=/bin"}}}
	}
	b.Spec.Hooks = &specs.Hooks{
		Prestart:        hook("prestart", logDir, busybox),
		CreateRuntime:   hook("createRuntime", logDir, busybox),
		CreateContainer: hook("createContainer", logDir, busybox),
		StartContainer:  hook("startContainer", "/hooklog", "/bin/busybox"),
		Poststart:       hook("poststart", logDir, busybox),
		Poststop:        hook("poststop", logDir, busybox),
	}
	id := e.create(b)
	e.must("start", id)
	e.waitStatus(id, "stopped")
	e.must("delete", id)
	want := map[string]string{
		"prestart": "created", "createRuntime": "created", "createContainer": "created",
		"startContainer": "created", "poststart": "running", "poststop": "stopped",
	}
	for kind, status := range want {
		data, err := os.ReadFile(filepath.Join(logDir, kind+".json"))
		if err != nil {
			t.Errorf("%s: hook did not run: %v", kind, err)
			continue
		}
		var st specs.State
		if err := json.Unmarshal(data, &st); err != nil {
			t.Errorf("%s: state on stdin %q: %v", kind, data, err)
			continue
		}
		if st.Version == "" || st.ID != id || string(st.Status) != status || st.Bundle != b.dir || st.Annotations["kan.test"] != "yes" {
			t.Errorf("%s: state %+v, want id %s, status %s, bundle %s, the annotations", kind, st, id, status, b.dir)
		}
		if kind != "poststop" && st.Pid <= 0 {
			t.Errorf("%s: state has no pid: %s", kind, data)
		}
		args, _ := os.ReadFile(filepath.Join(logDir, kind+".args"))
		if got, want := string(args), "zero one|KAN_HOOK="+kind+" PATH=/bin \n"; got != want {
			t.Errorf("%s: args and env %q, want %q", kind, got, want)
		}
	}
}

// TestHookTimeoutsAndErrors: a timeout or a missing program fails the step
// with an error naming the hook, in time.
func TestHookTimeoutsAndErrors(t *testing.T) {
	e := newEnv(t)
	one := 1
	sleepy := specs.Hook{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &one}
	before := hostMounts(t)
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		b := newBundle(t, "true")
		b.Spec.Hooks = &specs.Hooks{}
		switch kind {
		case "prestart":
			b.Spec.Hooks.Prestart = []specs.Hook{{Path: "/bin/true"}, sleepy}
		case "createRuntime":
			b.Spec.Hooks.CreateRuntime = []specs.Hook{{Path: "/bin/true"}, sleepy}
		case "createContainer":
			b.Spec.Hooks.CreateContainer = []specs.Hook{{Path: "/bin/true"}, sleepy}
		}
		id := newID(t)
		start := time.Now()
		r := e.fails("hooks."+kind+"[1]", "create", "--bundle", b.write(t), id)
		if !strings.Contains(r.stderr, "timed out") {
			t.Errorf("%s: error does not say the hook timed out: %v", kind, r)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: create took %v with a 1 s hook timeout", kind, d)
		}
		e.assertGone(id)
	}

	// A missing hook program is named.
	b := newBundle(t, "true")
	b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/no/such/hook"}}}
	id := newID(t)
	e.fails("hooks.createRuntime[0]", "create", "--bundle", b.write(t), id)
	e.assertGone(id)

	// A poststart timeout fails start and stops the container.
	b = newBundle(t, "sleep", "1000")
	b.Spec.Hooks = &specs.Hooks{Poststart: []specs.Hook{sleepy}}
	id = e.create(b)
	r := e.fails("hooks.poststart[0]", "start", id)
	if !strings.Contains(r.stderr, "timed out") {
		t.Errorf("poststart: %v", r)
	}
	e.waitStatus(id, "stopped")

	// A startContainer timeout fails start; the program never runs.
	b = newBundle(t, "sleep", "1000")
	b.Spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{sleepy}}
	id = e.create(b)
	r = e.fails("hooks.startContainer[0]", "start", id)
	if !strings.Contains(r.stderr, "timed out") {
		t.Errorf("startContainer: %v", r)
	}
	e.waitStatus(id, "stopped")

	// A poststop timeout is reported; delete still succeeds.
	b = newBundle(t, "true")
	b.Spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{sleepy}}
	id = newID(t)
	r = e.kan("run", "--bundle", b.write(t), id)
	if r.code != 0 || !strings.Contains(r.stderr, "hooks.poststop[0]") {
		t.Errorf("poststop timeout: %v, want success with a warning", r)
	}
	e.assertGone(id)
	if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
		t.Error("host mount table changed:\n" + strings.Join(diff, "\n"))
	}
}
