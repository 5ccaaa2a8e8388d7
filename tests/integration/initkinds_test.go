package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// kan has two inits. For a config whose namespaces kan's clone makes (no
// user or time namespace, none joined) and that has no hook, no
// --no-pivot and no idmapped mount, the init runs no Go: kan builds the
// rootfs from a thread of its own and the init is C (the init stage). Any
// other config gets the Go init. Most tests use the default config, so
// the C init; the tests here run what differs between the two under both.
// A createRuntime hook that does nothing is enough to get the Go init.

var initKinds = []struct {
	name      string
	edit      func(*specs.Spec)
	goRuntime bool // the init runs Go: it has more than one thread
}{
	{"C init", func(*specs.Spec) {}, false},
	{"Go init", withGoInit, true},
}

func withGoInit(s *specs.Spec) {
	if s.Hooks == nil {
		s.Hooks = &specs.Hooks{}
	}
	s.Hooks.CreateRuntime = append(s.Hooks.CreateRuntime, specs.Hook{Path: "/bin/true"})
}

// TestProcessFieldsGoInit: every process field with the Go init
// (TestProcessFields has the C init).
func TestProcessFieldsGoInit(t *testing.T) {
	cases := processFieldCases(t)
	for i := range cases {
		edit := cases[i].edit
		cases[i].edit = func(s *specs.Spec) { edit(s); withGoInit(s) }
	}
	runFieldCases(t, cases)
}

// TestInitProcMount: the init mounts the container's procfs (it must be
// of the container's pid namespace), with the config's flags and options.
func TestInitProcMount(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			b := newBundle(t, "sh", "-c", "ls /proc | grep -c '^[0-9]'; grep ' /proc proc ' /proc/mounts")
			k.edit(b.Spec)
			for i, m := range b.Spec.Mounts {
				if m.Destination == "/proc" {
					b.Spec.Mounts[i].Options = []string{"nosuid", "noexec", "nodev", "hidepid=invisible"}
				}
			}
			out := e.mustRun(b)
			// Only the container's own processes: sh and ls, grep.
			if n := strings.SplitN(out, "\n", 2)[0]; n != "3" && n != "2" {
				t.Errorf("the container sees %s processes in /proc, want its own 2 or 3:\n%s", n, out)
			}
			for _, want := range []string{"nosuid", "nodev", "noexec", "hidepid=invisible"} {
				if !strings.Contains(out, want) {
					t.Errorf("/proc is mounted without %s:\n%s", want, out)
				}
			}
		})
	}
}

// TestInitProcMountRefused: a procfs option the kernel refuses fails
// create, naming the mount, and leaves nothing behind.
func TestInitProcMountRefused(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			before := hostMounts(t)
			b := newBundle(t, "true")
			k.edit(b.Spec)
			idx := -1
			for i, m := range b.Spec.Mounts {
				if m.Destination == "/proc" {
					b.Spec.Mounts[i].Options = []string{"hidepid=bogus"}
					idx = i
				}
			}
			id := newID(t)
			e.fails("mounts["+strconv.Itoa(idx)+"] (proc on /proc)", "create", "--bundle", b.write(t), id)
			e.assertGone(id)
			if diff := mountDiff(before, hostMounts(t)); len(diff) > 0 {
				t.Error("host mount table changed:\n" + strings.Join(diff, "\n"))
			}
		})
	}
}

// TestInitSignalledWhileCreated: a created container whose init gets a
// terminating signal stops, as a program would (pid 1 of a namespace
// ignores what it has no handler for).
func TestInitSignalledWhileCreated(t *testing.T) {
	for _, k := range initKinds {
		for _, sig := range []string{"TERM", "INT", "HUP"} {
			t.Run(k.name+" "+sig, func(t *testing.T) {
				e := newEnv(t)
				b := newBundle(t, "true")
				k.edit(b.Spec)
				id := e.create(b)
				// Each kind is the init it says: Go's runtime starts
				// threads, the C init has one.
				pid := int(e.state(id)["pid"].(float64))
				tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
				if err != nil {
					t.Fatal(err)
				}
				if multi := len(tasks) > 1; multi != k.goRuntime {
					t.Fatalf("the init has %d threads: not the %s", len(tasks), k.name)
				}
				e.must("kill", id, sig)
				e.waitStatus(id, "stopped")
			})
		}
	}
}

// TestInitSignalsIgnoredWhileCreated: a signal that does not end a Go
// program (USR1) does not end a created container's init either, with
// either init: it is caught, and the container still starts.
func TestInitSignalsIgnoredWhileCreated(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			b := newBundle(t, "true")
			k.edit(b.Spec)
			id := e.create(b)
			e.must("kill", id, "USR1")
			e.must("kill", id, "WINCH")
			time.Sleep(100 * time.Millisecond)
			if st := e.status(id); st != "created" {
				t.Fatalf("after SIGUSR1 and SIGWINCH the container is %s, want created", st)
			}
			e.must("start", id)
		})
	}
}

// TestInitKeepsIgnoredHangup: a create started with SIGHUP ignored (nohup)
// passes that on to the program, as runc and Go programs do; every other
// signal reaches the program with its default action.
func TestInitKeepsIgnoredHangup(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			b := newBundle(t, "cat", "/proc/self/status")
			k.edit(b.Spec)
			id := newID(t)
			// Files, not pipes: the container keeps create's stdio.
			dir := t.TempDir()
			out, errs := filepath.Join(dir, "out"), filepath.Join(dir, "err")
			cmd := exec.Command("sh", "-c", `trap "" HUP PIPE; exec "$@" > "`+out+`" 2> "`+errs+`"`, "sh",
				kanBin, "--root", e.root, "create", "--bundle", b.write(t), id)
			if err := cmd.Run(); err != nil {
				msg, _ := os.ReadFile(errs)
				t.Fatalf("create: %v: %s", err, msg)
			}
			t.Cleanup(func() { e.kan("delete", "--force", id) })
			e.must("start", id)
			e.waitStatus(id, "stopped")
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var ignored uint64
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
					ignored, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				}
			}
			const hup, pipe = 1 << (1 - 1), 1 << (13 - 1)
			if ignored != hup {
				t.Errorf("the program ignores signals %#x, want only SIGHUP (%#x); SIGPIPE (%#x) is kan's to reset:\n%s", ignored, hup, pipe, data)
			}
		})
	}
}

// TestInitProgramGoneAtStart: the program is found at create; if it is
// gone by start, start fails with the reason and the container stops.
func TestInitProgramGoneAtStart(t *testing.T) {
	for _, k := range initKinds {
		t.Run(k.name, func(t *testing.T) {
			e := newEnv(t)
			dir := t.TempDir()
			bb, err := os.ReadFile(filepath.Join(rootfsDir, "bin", "busybox"))
			if err != nil {
				t.Fatal(err)
			}
			prog := filepath.Join(dir, "prog")
			if err := os.WriteFile(prog, bb, 0o755); err != nil {
				t.Fatal(err)
			}
			b := newBundle(t, "/x/prog", "true")
			k.edit(b.Spec)
			b.Spec.Mounts = append(b.Spec.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: dir, Options: []string{"bind", "ro"}})
			id := e.create(b)
			if err := os.Remove(prog); err != nil {
				t.Fatal(err)
			}
			e.fails("exec /x/prog: no such file or directory", "start", id)
			e.waitStatus(id, "stopped")
		})
	}
}
