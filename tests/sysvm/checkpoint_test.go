//go:build sysvm

package sysvm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/crit"
	"github.com/checkpoint-restore/go-criu/v7/crit/images/fdinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kan-runtime/kan/libcontainer/console"
	"github.com/kan-runtime/kan/spec"
)

// The checkpoint tests run each scenario with kan and with Debian's runc,
// side by side: a busybox shell counts in a variable (state that lives
// only in its memory) and writes each value to /out/count, a directory of
// the test's bound into the container. A restored process that goes on
// from the value it had is one criu saved and restored; one that started
// again would count from 1.

// counter is the container's program.
const counter = `i=0; while :; do i=$((i+1)); echo $i > /out/count; echo $i; sleep 0.1; done`

// runtime is kan or runc, each with a state root of its own.
type runtime struct {
	name, bin, root string
	log             string // --log: what a detached command says
}

func runtimes(t *testing.T) []*runtime {
	var rts []*runtime
	for _, r := range []struct{ name, bin string }{{"kan", kanBin}, {"runc", "runc"}} {
		bin, err := exec.LookPath(r.bin)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		dir := t.TempDir()
		rts = append(rts, &runtime{name: r.name, bin: bin, root: filepath.Join(dir, "root"), log: filepath.Join(dir, "log")})
	}
	return rts
}

// try runs a command of the runtime with its stdio on /dev/null (a
// detached container keeps them) and returns what its log got.
func (r *runtime) try(args ...string) (string, error) {
	os.Truncate(r.log, 0)
	cmd := exec.Command(r.bin, append([]string{"--root", r.root, "--log", r.log}, args...)...)
	err := cmd.Run()
	data, _ := os.ReadFile(r.log)
	return string(data), err
}

func (r *runtime) must(t *testing.T, args ...string) time.Duration {
	t.Helper()
	t0 := time.Now()
	out, err := r.try(args...)
	d := time.Since(t0)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", r.name, strings.Join(args, " "), err, out)
	}
	return d
}

func (r *runtime) state(t *testing.T, id string) (specs.State, error) {
	out, err := exec.Command(r.bin, "--root", r.root, "state", id).Output()
	var st specs.State
	if err == nil {
		err = json.Unmarshal(out, &st)
	}
	return st, err
}

// runCounter runs, detached, the counter of counterBundle as container id
// of runtime r, deleted when the test ends, and returns its bundle once it
// has counted to 3.
func runCounter(t *testing.T, r *runtime, out, id, cgroup string) string {
	t.Helper()
	b := counterBundle(t, out, cgroup, nil)
	r.must(t, "run", "-d", "--bundle", b, id)
	t.Cleanup(func() { r.try("delete", "-f", id) })
	waitCount(t, out, 3)
	return b
}

// counterBundle writes a config running counter with out bound on /out, in its
// own cgroup with a memory limit; edit changes it further.
func counterBundle(t *testing.T, out, cgroup string, edit func(*specs.Spec)) string {
	t.Helper()
	b := t.TempDir()
	s := spec.Default(false, 0, 0)
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", counter}
	s.Root.Path = rootfsDir
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind", "rw"}})
	s.Linux.CgroupsPath = cgroup
	limit := int64(64 << 20)
	s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	if edit != nil {
		edit(s)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func readCount(out string) int {
	data, _ := os.ReadFile(filepath.Join(out, "count"))
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

// waitCount waits until the counter passes min and returns its value.
func waitCount(t *testing.T, out string, min int) int {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n := readCount(out); n > min {
			return n
		}
	}
	t.Fatalf("the counter in %s did not pass %d (at %d)", out, min, readCount(out))
	return 0
}

// waitChange waits for the counter to change from n and returns the new
// value: the first one the restored process writes.
func waitChange(t *testing.T, out string, n int) int {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if v := readCount(out); v != n && v != 0 {
			return v
		}
	}
	t.Fatalf("the counter in %s stayed at %d", out, n)
	return 0
}

// counterForRestore is what /out/count of a new directory holds for the
// restore of images: the value at. But when the dump caught the shell
// between opening /out/count (which truncates it) and closing it, criu
// restores that open file and insists on the size it had then; the file
// is then that many bytes of a zero, which waitChange passes over.
func counterForRestore(t *testing.T, images string, at int) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join(images, "files.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := crit.New(f, nil, "", false, true).Decode(&fdinfo.FileEntry{})
	if err != nil {
		t.Fatalf("decoding the dump's files.img: %v", err)
	}
	for _, e := range img.Entries {
		reg := e.Message.(*fdinfo.FileEntry).GetReg()
		if reg == nil || !strings.HasSuffix(reg.GetName(), "out/count") {
			continue
		}
		t.Logf("the dump holds %s open, %d bytes long", reg.GetName(), reg.GetSize())
		if reg.GetSize() == 0 {
			return nil
		}
		return []byte(strings.Repeat("0", int(reg.GetSize())-1) + "\n")
	}
	return []byte(strconv.Itoa(at))
}

// checkStopped: a checkpoint without --leave-running stops the
// processes: the counter does not move.
func checkStopped(t *testing.T, out string) int {
	t.Helper()
	n := readCount(out)
	time.Sleep(500 * time.Millisecond)
	if v := readCount(out); v != n {
		t.Fatalf("the counter moved from %d to %d after the checkpoint", n, v)
	}
	return n
}

// checkRestored: the container is running with the restored pid, which
// is in the config's cgroup with the config's memory limit, and counts on
// from the value it had at the checkpoint.
func checkRestored(t *testing.T, r *runtime, id, out, cgroup string, at int) {
	t.Helper()
	st, err := r.state(t, id)
	if err != nil || st.Status != "running" || st.Pid <= 0 {
		t.Fatalf("%s state %s after restore: %+v, %v", r.name, id, st, err)
	}
	v := waitChange(t, out, at)
	if v <= at || v > at+5 {
		t.Errorf("%s: the restored counter went from %d to %d: not where it was", r.name, at, v)
	}
	procs, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", cgroup, "cgroup.procs"))
	if !strings.Contains("\n"+string(procs), "\n"+strconv.Itoa(st.Pid)+"\n") {
		t.Errorf("%s: restored pid %d not in cgroup %s: %q", r.name, st.Pid, cgroup, procs)
	}
	if max, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", cgroup, "memory.max")); strings.TrimSpace(string(max)) != "67108864" {
		t.Errorf("%s: memory.max of the restored cgroup: %q", r.name, max)
	}
}

// checkGone: nothing of container id is left: no state, no cgroup.
func checkGone(t *testing.T, r *runtime, id, cgroup string) {
	t.Helper()
	if _, err := r.state(t, id); err == nil {
		t.Errorf("%s: container %s still exists", r.name, id)
	}
	if cgroup != "" {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", cgroup)); err == nil {
			t.Errorf("%s: cgroup %s left behind", r.name, cgroup)
		}
	}
}

// TestCheckpointRestore: checkpoint (which stops and removes the
// container) and restore under the same id; the restored process counts
// on from where it was, in its cgroup with its limit. The times of both
// are logged, kan's beside runc's.
func TestCheckpointRestore(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			id, cg := "ckpt-"+r.name, "/ckpt/"+r.name
			b := runCounter(t, r, out, id, cg)
			// Three rounds: the first also loads criu from disk.
			var times []string
			for round := 0; round < 3; round++ {
				images := t.TempDir()
				dCk := r.must(t, "checkpoint", "--image-path", images, id)
				at := checkStopped(t, out)
				checkGone(t, r, id, cg)
				if _, err := os.Stat(filepath.Join(images, "dump.log")); err != nil {
					t.Errorf("no dump.log in the image directory: %v", err)
				}
				dRs := r.must(t, "restore", "-d", "--image-path", images, "--bundle", b, id)
				checkRestored(t, r, id, out, cg, at)
				times = append(times, fmt.Sprintf("%v/%v", dCk.Round(time.Millisecond), dRs.Round(time.Millisecond)))
			}
			t.Logf("TIMES %s checkpoint/restore: %s", r.name, strings.Join(times, " "))
			r.must(t, "delete", "-f", id)
			checkGone(t, r, id, cg)
		})
	}
}

// TestCheckpointLeaveRunningNewID: --leave-running keeps the container
// counting; its checkpoint restored under another id (and cgroup) counts
// on from the value it had then.
func TestCheckpointLeaveRunningNewID(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			id, cg := "lr-"+r.name, "/ckpt/lr-"+r.name
			runCounter(t, r, out, id, cg)
			images := t.TempDir()
			r.must(t, "checkpoint", "--leave-running", "--image-path", images, id)
			if st, err := r.state(t, id); err != nil || st.Status != "running" {
				t.Fatalf("after checkpoint --leave-running: %+v, %v", st, err)
			}
			at := readCount(out)
			waitCount(t, out, at+2) // still counting
			r.must(t, "delete", "-f", id)
			at = checkStopped(t, out)
			// A new id, in a cgroup of its own.
			out2 := t.TempDir()
			id2, cg2 := "lr2-"+r.name, "/ckpt/lr2-"+r.name
			b2 := counterBundle(t, out2, cg2, nil)
			os.WriteFile(filepath.Join(out2, "count"), counterForRestore(t, images, at), 0o644)
			r.must(t, "restore", "-d", "--image-path", images, "--bundle", b2, id2)
			defer r.try("delete", "-f", id2)
			// The restored process counts on from the checkpoint's value
			// (at most at: it may have counted after the dump).
			v := waitChange(t, out2, at)
			if v < 3 || v > at+1 {
				t.Errorf("restored under %s, the counter says %d (checkpoint near %d)", id2, v, at)
			}
			st, err := r.state(t, id2)
			if err != nil || st.Status != "running" {
				t.Fatalf("state %s: %+v %v", id2, st, err)
			}
			procs, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", cg2, "cgroup.procs"))
			if !strings.Contains(string(procs), strconv.Itoa(st.Pid)) {
				cgs, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
				if r.name == "runc" {
					// runc 1.1 leaves it in the checkpoint's cgroup.
					t.Logf("runc: the process restored under a new id is not in its config's cgroup %s but in %s", cg2, cgs)
				} else {
					t.Errorf("restored pid %d not in %s but in %s", st.Pid, cg2, cgs)
				}
			}
			r.must(t, "delete", "-f", id2)
			checkGone(t, r, id2, cg2)
		})
	}
}

// TestCheckpointPreDump: a pre-dump leaves the container running; the
// dump after it, with --parent-path, saves only what changed and
// restores the whole.
func TestCheckpointPreDump(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			id, cg := "pd-"+r.name, "/ckpt/pd-"+r.name
			b := runCounter(t, r, out, id, cg)
			images := t.TempDir()
			pre, final := filepath.Join(images, "pre"), filepath.Join(images, "final")
			r.must(t, "checkpoint", "--pre-dump", "--image-path", pre, id)
			if st, err := r.state(t, id); err != nil || st.Status != "running" {
				t.Fatalf("after --pre-dump: %+v, %v", st, err)
			}
			n := readCount(out)
			waitCount(t, out, n+2)
			r.must(t, "checkpoint", "--image-path", final, "--parent-path", "../pre", id)
			at := checkStopped(t, out)
			checkGone(t, r, id, cg)
			if _, err := os.Lstat(filepath.Join(final, "parent")); err != nil {
				t.Errorf("the dump has no link to its parent: %v", err)
			}
			r.must(t, "restore", "-d", "--image-path", final, "--bundle", b, id)
			checkRestored(t, r, id, out, cg, at)
			r.must(t, "delete", "-f", id)
		})
	}
}

// TestCheckpointUserNamespace: a container with a user namespace (root
// in it is 100000 outside) is checkpointed and restored.
func TestCheckpointUserNamespace(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			if err := os.Chown(out, 100000, 100000); err != nil {
				t.Fatal(err)
			}
			// criu opens the bind mount's source as the container's
			// root, 100000 here: its parent must let it through.
			if err := os.Chmod(filepath.Dir(out), 0o755); err != nil {
				t.Fatal(err)
			}
			id, cg := "us-"+r.name, "/ckpt/us-"+r.name
			b := counterBundle(t, out, cg, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			})
			r.must(t, "run", "-d", "--bundle", b, id)
			defer r.try("delete", "-f", id)
			waitCount(t, out, 3)
			images := t.TempDir()
			r.must(t, "checkpoint", "--image-path", images, id)
			at := checkStopped(t, out)
			if msg, err := r.try("restore", "-d", "--image-path", images, "--bundle", b, id); err != nil {
				if r.name == "runc" {
					t.Skipf("runc fails to restore a container with a user namespace here (%v): %s", err, msg)
				}
				t.Fatalf("restore: %v\n%s", err, msg)
			}
			checkRestored(t, r, id, out, cg, at)
			st, _ := r.state(t, id)
			if m, _ := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", st.Pid)); !strings.Contains(string(m), "100000") {
				t.Errorf("the restored process's uid_map: %q", m)
			}
			r.must(t, "delete", "-f", id)
		})
	}
}

// TestCheckpointTerminal: a container whose process has a terminal (its
// master sent to the console socket) is checkpointed; on restore criu
// makes a new pty pair and the master reaches the restore's
// --console-socket, where the counting goes on.
func TestCheckpointTerminal(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			id, cg := "tty-"+r.name, "/ckpt/tty-"+r.name
			b := counterBundle(t, out, cg, func(s *specs.Spec) { s.Process.Terminal = true })
			sock := filepath.Join(t.TempDir(), "tty.sock")
			masters := listenConsole(t, sock)
			r.must(t, "run", "-d", "--console-socket", sock, "--bundle", b, id)
			defer r.try("delete", "-f", id)
			lines := readLines(<-masters)
			waitLine(t, lines, 3)
			images := t.TempDir()
			r.must(t, "checkpoint", "--image-path", images, id)
			at := checkStopped(t, out)
			r.must(t, "restore", "-d", "--console-socket", sock, "--image-path", images, "--bundle", b, id)
			checkRestored(t, r, id, out, cg, at)
			var m *os.File
			select {
			case m = <-masters:
			case <-time.After(time.Minute):
				t.Fatal("no terminal reached the console socket on restore")
			}
			// The new terminal carries the counting on.
			if v := waitLine(t, readLines(m), at); v <= at {
				t.Errorf("the restored terminal says %d, the checkpoint was at %d", v, at)
			}
			r.must(t, "delete", "-f", id)
		})
	}
}

// listenConsole receives each pty master sent to the socket at path.
func listenConsole(t *testing.T, path string) <-chan *os.File {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan *os.File, 4)
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			f, _ := c.File()
			c.Close()
			m, err := console.RecvFd(f)
			f.Close()
			if err == nil {
				t.Cleanup(func() { m.Close() })
				ch <- m
			}
		}
	}()
	return ch
}

// readLines sends the numbers the terminal prints.
func readLines(m *os.File) <-chan int {
	ch := make(chan int, 1024)
	go func() {
		s := bufio.NewScanner(m)
		for s.Scan() {
			if n, err := strconv.Atoi(strings.TrimSpace(s.Text())); err == nil {
				select {
				case ch <- n:
				default:
				}
			}
		}
	}()
	return ch
}

// waitLine waits for a number above min on the terminal and returns it.
func waitLine(t *testing.T, lines <-chan int, min int) int {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case n := <-lines:
			if n > min {
				return n
			}
		case <-timeout:
			t.Fatalf("the terminal printed nothing above %d", min)
			return 0
		}
	}
}

// TestRestoreFails: a restore criu cannot carry out (the bind mount's
// source is gone) fails naming criu and its log, and leaves nothing
// behind: no state, no cgroup, no mount, no process.
func TestRestoreFails(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			id, cg := "bad-"+r.name, "/ckpt/bad-"+r.name
			runCounter(t, r, out, id, cg)
			images := t.TempDir()
			r.must(t, "checkpoint", "--image-path", images, id)
			at := checkStopped(t, out)
			b2 := counterBundle(t, filepath.Join(t.TempDir(), "gone"), cg, nil)
			msg, err := r.try("restore", "-d", "--image-path", images, "--bundle", b2, id)
			if err == nil {
				t.Fatalf("restore with a missing bind source succeeded")
			}
			t.Logf("%s restore: %s", r.name, msg)
			checkGone(t, r, id, cg)
			if r.name == "kan" && (!strings.Contains(msg, "criu") || !strings.Contains(msg, "restore.log")) {
				t.Errorf("the error names neither criu nor its log: %s", msg)
			}
			if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), "criu-root") {
				t.Errorf("a mount of the restore is left:\n%s", mi)
			}
			if v := readCount(out); v != at {
				t.Errorf("a process of the failed restore ran: counter %d -> %d", at, v)
			}
		})
	}
}

// TestCheckpointFails: a checkpoint criu cannot carry out (its page
// server does not answer) fails naming criu and its log, which stays in
// the image directory; the container keeps running.
func TestCheckpointFails(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			id, cg := "cf-"+r.name, "/ckpt/cf-"+r.name
			runCounter(t, r, out, id, cg)
			images := t.TempDir()
			msg, err := r.try("checkpoint", "--page-server", "127.0.0.1:1", "--image-path", images, id)
			if err == nil {
				t.Fatal("checkpoint to a page server that is not there succeeded")
			}
			t.Logf("%s checkpoint: %s", r.name, msg)
			if _, err := os.Stat(filepath.Join(images, "dump.log")); err != nil {
				t.Errorf("criu's log is not in the image directory: %v", err)
			}
			if r.name == "kan" && (!strings.Contains(msg, "criu") || !strings.Contains(msg, filepath.Join(images, "dump.log"))) {
				t.Errorf("the error names neither criu nor its log: %s", msg)
			}
			if st, err := r.state(t, id); err != nil || st.Status != "running" {
				t.Fatalf("after a failed checkpoint: %+v, %v", st, err)
			}
			n := readCount(out)
			waitCount(t, out, n+2) // still counting
			r.must(t, "delete", "-f", id)
			checkGone(t, r, id, cg)
		})
	}
}

// TestPodmanCheckpoint: Podman (`podman container checkpoint` and
// `restore`, conmon calling the runtime) with kan as its runtime, beside
// runc: the restored container counts on from where it was, and kan exec
// reaches it (podman exec).
func TestPodmanCheckpoint(t *testing.T) {
	podman, must := newPodman(t)
	t.Cleanup(func() { podman("rm", "-af", "-t", "0") })
	count := func(t *testing.T, rt, name string) int {
		var out string
		var f []string
		// The shell truncates the file before it writes the next
		// number: a read in between finds it empty, and is made again.
		for try := 0; len(f) == 0 && try < 10; try++ {
			var err error
			out, err = podman("--runtime", rt, "exec", name, "cat", "/tmp/count")
			if err != nil {
				t.Fatalf("podman exec: %v\n%s", err, out)
			}
			// The last line: podman may warn before it.
			f = strings.Fields(out)
		}
		if len(f) == 0 {
			t.Fatal("podman exec cat /tmp/count: no output, 10 times")
		}
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("podman exec cat /tmp/count: %q", out)
		}
		return n
	}
	for _, rt := range []string{"kan", "runc"} {
		t.Run(rt, func(t *testing.T) {
			name := "pc-" + rt
			must(t, "--runtime", rt, "run", "-d", "--network=none", "--name", name, "localhost/bbox",
				"sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done`)
			// Far enough that a counter started again would be
			// seen below it.
			before := 0
			for deadline := time.Now().Add(time.Minute); before < 20; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the counter did not start")
				}
				before = count(t, rt, name)
			}
			t0 := time.Now()
			must(t, "--runtime", rt, "container", "checkpoint", name)
			dCk := time.Since(t0)
			if st := must(t, "inspect", "-f", "{{.State.Status}}", name); st != "exited" {
				t.Errorf("after checkpoint podman says %s", st)
			}
			t0 = time.Now()
			must(t, "--runtime", rt, "container", "restore", name)
			dRs := time.Since(t0)
			if st := must(t, "inspect", "-f", "{{.State.Status}} {{.State.Checkpointed}} {{.State.Restored}}", name); !strings.HasPrefix(st, "running") {
				t.Errorf("after restore podman says %s", st)
			}
			// The restored process counts on from the checkpoint's
			// value, above the one read before it; started again, it
			// would count from 1.
			at := count(t, rt, name)
			if at < before {
				t.Errorf("%s: the counter was at %d before the checkpoint and is at %d after the restore", rt, before, at)
			}
			if v := count(t, rt, name); v <= at {
				t.Errorf("%s: the restored counter does not count: %d then %d", rt, at, v)
			}
			t.Logf("TIMES podman %s checkpoint %v restore %v", rt, dCk.Round(time.Millisecond), dRs.Round(time.Millisecond))
			must(t, "rm", "-f", "-t", "0", name)
		})
	}
}

// newPodman sets up Podman with its storage and configuration in a
// temporary directory, kan as a runtime, and the busybox rootfs imported
// as localhost/bbox; it returns podman and a podman that must succeed.
func newPodman(t *testing.T) (func(args ...string) (string, error), func(t *testing.T, args ...string) string) {
	dir := t.TempDir()
	conf := fmt.Sprintf(`[containers]
pids_limit = 0
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = %[1]q
runtime_supports_json = ["kan", "runc"]
[engine.runtimes]
kan = [%[2]q]
`, filepath.Join(dir, "tmp"), kanBin)
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(dir, "graph"), filepath.Join(dir, "run"))
	os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o644)
	os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(storage), 0o644)
	env := append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"), "CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"))
	podman := func(args ...string) (string, error) {
		cmd := exec.Command("podman", args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := podman(args...)
		if err != nil {
			t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	tar := filepath.Join(dir, "rootfs.tar")
	run(t, "tar", "-C", rootfsDir, "-cf", tar, ".")
	must(t, "import", "--change", `CMD ["/bin/sh"]`, tar, "localhost/bbox")
	return podman, must
}

// TestCtrCheckpoint: containerd's `ctr task checkpoint` (the runc v2
// shim calling the runtime given by --runc-binary) with kan, beside runc:
// a checkpoint that leaves the task running, then one with --exit that
// stops it; criu's images land in --image-path.
func TestCtrCheckpoint(t *testing.T) {
	dir := t.TempDir()
	_, pmust := newPodman(t)
	image := filepath.Join(dir, "image.tar")
	pmust(t, "save", "--format", "docker-archive", "-o", image, "localhost/bbox")
	sock := filepath.Join(dir, "containerd.sock")
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[debug]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "debug.sock"))
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o644)
	logf, _ := os.Create(filepath.Join(dir, "containerd.log"))
	daemon := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Signal(os.Interrupt)
		daemon.Wait()
		if t.Failed() {
			data, _ := os.ReadFile(logf.Name())
			t.Logf("containerd log:\n%s", data)
		}
	})
	ctr := func(args ...string) (string, error) {
		out, err := exec.Command("ctr", append([]string{"--address", sock}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	cmust := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := ctr(args...)
		if err != nil {
			t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := ctr("version"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("containerd does not answer")
		}
	}
	cmust(t, "image", "import", image)
	status := func(t *testing.T, id string) string {
		for _, l := range strings.Split(cmust(t, "task", "ls"), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == id {
				return f[2]
			}
		}
		return ""
	}
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			id := "ctr-" + r.name
			cmust(t, "run", "-d", "--runtime", "io.containerd.runc.v2", "--runc-binary", r.bin, "--runc-root", r.root,
				"--cpu-shares", "0", "--mount", "type=bind,src="+out+",dst=/out,options=rbind:rw",
				"localhost/bbox:latest", id, "sh", "-c", counter)
			defer func() {
				ctr("task", "rm", "-f", id)
				ctr("container", "rm", id)
			}()
			waitCount(t, out, 3)
			images := filepath.Join(t.TempDir(), "images")
			t0 := time.Now()
			cmust(t, "task", "checkpoint", "--image-path", images, id)
			dCk := time.Since(t0)
			if _, err := os.Stat(filepath.Join(images, "inventory.img")); err != nil {
				t.Errorf("no criu images in --image-path: %v", err)
			}
			if s := status(t, id); s != "RUNNING" {
				t.Errorf("after ctr task checkpoint the task is %q", s)
			}
			n := readCount(out)
			waitCount(t, out, n+2) // still counting
			images2 := filepath.Join(t.TempDir(), "images")
			cmust(t, "task", "checkpoint", "--exit", "--image-path", images2, id)
			checkStopped(t, out)
			if _, err := os.Stat(filepath.Join(images2, "inventory.img")); err != nil {
				t.Errorf("no criu images in --image-path after --exit: %v", err)
			}
			t.Logf("TIMES ctr %s checkpoint (leave running) %v", r.name, dCk.Round(time.Millisecond))
		})
	}
}

// TestRestoreForeground: restore without --detach waits for the restored
// process, exits with its status (128+9 for SIGKILL) and deletes the
// container, as run does.
func TestRestoreForeground(t *testing.T) {
	for _, r := range runtimes(t) {
		t.Run(r.name, func(t *testing.T) {
			out := t.TempDir()
			id, cg := "fg-"+r.name, "/ckpt/fg-"+r.name
			b := runCounter(t, r, out, id, cg)
			images := t.TempDir()
			r.must(t, "checkpoint", "--image-path", images, id)
			at := checkStopped(t, out)
			cmd := exec.Command(r.bin, "--root", r.root, "restore", "--image-path", images, "--bundle", b, id)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			waitCount(t, out, at+2)
			if st, err := r.state(t, id); err != nil || st.Status != "running" {
				t.Fatalf("state while restore waits: %+v %v", st, err)
			}
			// KILL: the shell is pid 1 of its namespace, which TERM
			// without a handler does not end.
			r.must(t, "kill", id, "KILL")
			var err error
			select {
			case err = <-done:
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				t.Fatal("restore did not return after its process was killed")
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 137 {
				t.Errorf("restore exited with %v, want 137", err)
			}
			checkGone(t, r, id, cg)
		})
	}
}
