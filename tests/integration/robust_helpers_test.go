package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// kanEnv runs kan with extra environment variables and returns the result
// and the process state (exit signal, rusage).
func (e *env) kanEnv(extraEnv []string, args ...string) (result, *os.ProcessState) {
	e.t.Helper()
	cmd := exec.Command(kanBin, append([]string{"--root", e.root}, args...)...)
	cmd.Env = append(os.Environ(), extraEnv...)
	dir := e.t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	err = cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			e.t.Fatalf("kan %v: %v", args, err)
		}
	}
	stdout, _ := os.ReadFile(out.Name())
	stderr, _ := os.ReadFile(errf.Name())
	return result{string(stdout), string(stderr), cmd.ProcessState.ExitCode()}, cmd.ProcessState
}

// killedBy tells whether a process ended with signal sig.
func killedBy(ps *os.ProcessState, sig syscall.Signal) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// maxRSS is a finished process's peak resident set, in KiB.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}

// procsInCgroup lists the host pids whose cgroup v2 path is the
// container's cgroup or below it.
func procsInCgroup(id string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + ent.Name() + "/cgroup")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if p, ok := strings.CutPrefix(l, "0::"); ok && (p == "/kan/"+id || strings.HasPrefix(p, "/kan/"+id+"/")) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// procStart is field 22 of /proc/<pid>/stat, or 0 if the process is gone
// (or dead: a zombie).
func procStart(pid int) uint64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 20 || f[0] == "Z" {
		return 0 // gone, or a zombie its parent (here: the host's init) has yet to reap
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

// rawState reads and decodes state.json directly: it must parse whenever
// it exists (atomic writes). It returns nil if there is none.
func (e *env) rawState(id string) map[string]any {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(e.root, id, "state.json"))
	if err != nil {
		return nil
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		e.t.Fatalf("state.json of %s is not valid JSON (%v): %q", id, err, data)
	}
	return st
}

// stateEntries are the entries of the state root other than kan's own
// .exeseal-empty.
func (e *env) stateEntries() []string {
	entries, _ := os.ReadDir(e.root)
	var names []string
	for _, ent := range entries {
		if ent.Name() != ".exeseal-empty" {
			names = append(names, ent.Name())
		}
	}
	return names
}

// assertNoLeak checks, beyond assertGone, that no process is left in the
// container's cgroup, that the init (pid and start time) is gone, that
// the state root is empty and that the host mount table is as before.
func (e *env) assertNoLeak(id string, initPid int, initStart uint64, mountsBefore string) {
	e.t.Helper()
	e.assertGone(id)
	if pids := procsInCgroup(id); len(pids) > 0 {
		e.t.Errorf("container %s: processes left in its cgroup: %v", id, pids)
	}
	if initPid > 0 && initStart != 0 {
		waitFor(e.t, "the init to be gone", func() bool { return procStart(initPid) != initStart })
	}
	if left := e.stateEntries(); len(left) > 0 {
		e.t.Errorf("state root not clean: %v", left)
	}
	if mountsBefore != "" {
		if diff := mountDiff(mountsBefore, hostMounts(e.t)); len(diff) > 0 {
			e.t.Errorf("host mount table changed: %v", diff)
		}
	}
}

// cgroupDirs counts the cgroups under kan's parent cgroup of this test
// run's containers (ids carry the test process's pid: other kan users of
// the host come and go meanwhile).
func cgroupDirs() int {
	entries, _ := os.ReadDir(filepath.Join(cgroupRoot, "kan"))
	n := 0
	mark := "-" + strconv.Itoa(os.Getpid()) + "-"
	for _, ent := range entries {
		if ent.IsDir() && strings.Contains(ent.Name(), mark) {
			n++
		}
	}
	return n
}

// openFds counts the test process's own open fds.
func openFds() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	return len(entries)
}

// mountDiff lists the mount table lines (mount point and type, as
// hostMounts gives them) added (+) and removed (-) from before to after.
func mountDiff(before, after string) []string {
	count := map[string]int{}
	for _, l := range strings.Split(before, "\n") {
		count[l]--
	}
	for _, l := range strings.Split(after, "\n") {
		count[l]++
	}
	var diff []string
	for l, n := range count {
		if foreign(l) {
			continue
		}
		for ; n > 0; n-- {
			diff = append(diff, "+"+l)
		}
		for ; n < 0; n++ {
			diff = append(diff, "-"+l)
		}
	}
	return diff
}

// foreign tells whether a mount table line is another user's of this
// shared host: under /tmp, /run or /var but not in this test run's
// directories (its rootfs, bundles and state roots are all under /tmp).
func foreign(line string) bool {
	mp, _, _ := strings.Cut(line, " ")
	for _, p := range []string{"/tmp/", "/run/", "/var/"} {
		if strings.HasPrefix(mp, p) {
			return !strings.HasPrefix(mp, filepath.Dir(rootfsDir)) && !strings.Contains(mp, "/kan-it-") && !ownTemp(mp)
		}
	}
	return false
}

// ownTemp tells whether path is under a t.TempDir of one of this
// package's tests (Go names them /tmp/<TestName><random>/).
func ownTemp(path string) bool {
	for _, name := range ownTests {
		if strings.HasPrefix(path, "/tmp/"+name) {
			return true
		}
	}
	return false
}

var ownTests = []string{"TestCrash", "TestBadInput", "TestConcurrent", "TestParallel", "TestSoak", "TestProcfs", "TestMasked",
	"TestConsoleWith", "TestExecCwd", "TestExhaust", "TestRunForwards", "TestRunSubreaper"}
