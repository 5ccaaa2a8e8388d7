package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hook appends "<name> <status> <pid-present>" to log, reading the state
// JSON from stdin.
func hook(name, log string) specs.Hook {
	script := `st=$(cat); status=$(echo "$st" | grep -o '"status":"[a-z]*"' | cut -d'"' -f4); ` +
		`case "$st" in *'"pid":'*) p=pid;; *) p=nopid;; esac; echo "` + name + ` $status $p $FOO" >>` + log
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: []string{"FOO=bar"}}
}

func TestHooksOrderStateAndNamespaces(t *testing.T) {
	e := newEnv(t)
	logDir := t.TempDir()
	os.Chmod(logDir, 0o777)
	log := filepath.Join(logDir, "log")
	b := newBundle(t, "sh", "-c", "echo program >>/hooklog/log")
	b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"bind"}})
	b.Spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{hook("prestart", log)},
		CreateRuntime:   []specs.Hook{hook("createRuntime", log)},
		CreateContainer: []specs.Hook{hook("createContainer", log)},
		// startContainer runs in the container: its paths are the container's.
		StartContainer: []specs.Hook{hook("startContainer", "/hooklog/log")},
		Poststart:      []specs.Hook{hook("poststart", log)},
		Poststop:       []specs.Hook{hook("poststop", log)},
	}
	id := e.create(b)
	e.must("start", id)
	e.waitStatus(id, "stopped")
	e.must("delete", id)
	data, _ := os.ReadFile(log)
	got := string(data)
	// poststart may run before or after the program prints.
	got = strings.Replace(got, "poststart running pid bar\nprogram\n", "program\npoststart running pid bar\n", 1)
	// The hooks of create see "created": their environment exists (and
	// the runtime-tools suite's hooks_stdin wants it so).
	want := "prestart created pid bar\ncreateRuntime created pid bar\ncreateContainer created pid bar\n" +
		"startContainer created pid bar\nprogram\npoststart running pid bar\npoststop stopped pid bar\n"
	if got != want {
		t.Fatalf("hook log:\n%s\nwant:\n%s", got, want)
	}
}

func TestFailingHooks(t *testing.T) {
	e := newEnv(t)
	fail := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook-broke >&2; exit 3"}}
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		b := newBundle(t, "true")
		b.Spec.Hooks = &specs.Hooks{}
		switch kind {
		case "prestart":
			b.Spec.Hooks.Prestart = []specs.Hook{fail}
		case "createRuntime":
			b.Spec.Hooks.CreateRuntime = []specs.Hook{fail}
		case "createContainer":
			b.Spec.Hooks.CreateContainer = []specs.Hook{fail}
		}
		id := newID(t)
		r := e.fails("hooks."+kind+"[0]", "create", "--bundle", b.write(t), id)
		if !strings.Contains(r.stderr, "hook-broke") {
			t.Errorf("%s: hook output not in the error: %v", kind, r)
		}
		e.assertGone(id)
	}

	// A hook that outlives its timeout fails create.
	b := newBundle(t, "true")
	one := 1
	b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "10"}, Timeout: &one}}}
	id := newID(t)
	e.fails("timed out", "create", "--bundle", b.write(t), id)
	e.assertGone(id)

	// A failing startContainer hook fails start; the program never runs.
	b = newBundle(t, "sleep", "1000")
	b.Spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{fail}}
	id = e.create(b)
	r := e.fails("hooks.startContainer[0]", "start", id)
	if !strings.Contains(r.stderr, "hook-broke") {
		t.Errorf("startContainer: hook output not in the error: %v", r)
	}
	e.waitStatus(id, "stopped")

	// A failing poststart fails start and stops the container (spec 1.3).
	b = newBundle(t, "sleep", "1000")
	b.Spec.Hooks = &specs.Hooks{Poststart: []specs.Hook{fail}}
	id = e.create(b)
	e.fails("hooks.poststart[0]", "start", id)
	e.waitStatus(id, "stopped")

	// A failing poststop is logged; delete still succeeds.
	b = newBundle(t, "true")
	b.Spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{fail}}
	id = newID(t)
	r = e.kan("run", "--bundle", b.write(t), id)
	if r.code != 0 || !strings.Contains(r.stderr, "hooks.poststop[0]") {
		t.Fatalf("failing poststop: %v, want success with a warning", r)
	}
	e.assertGone(id)
}
