package integration

import (
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stress tells whether the long variants run (make stress).
var stress = os.Getenv("KAN_STRESS") != ""

// pick returns quick normally and long under make stress.
func pick(quick, long int) int {
	if stress {
		return long
	}
	return quick
}

// noPanic fails if a kan invocation crashed instead of reporting an error.
func noPanic(t *testing.T, args []string, r result) {
	t.Helper()
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") || r.code > 125 {
		t.Errorf("kan %v crashed: %v", args, r)
	}
}

// watchState reads the container's state.json in a loop until stop is
// closed; every read that finds the file must parse.
func (e *env) watchState(id string, stop <-chan struct{}, reads *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.rawState(id) // Fatal on a half-written file
			reads.Add(1)
		}
	}()
	return &wg
}

// TestConcurrentCommandsOneID: 20 kan commands at once on one container id
// serialise through the container's lock. First 10 creates and 10 other
// commands: exactly one create wins. Then rounds of 20 mixed commands
// (create, start, kill, delete, state): the creates that win and the
// deletes that succeed alternate (wins - deletes is 1 if the container
// exists at the end, else 0), nothing panics, and state.json always parses.
func TestConcurrentCommandsOneID(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	mounts := hostMounts(t)
	bundle := sleeper(t).write(t)
	stop := make(chan struct{})
	var reads atomic.Int64
	watcher := e.watchState(id, stop, &reads)

	runAll := func(cmds [][]string) []result {
		results := make([]result, len(cmds))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, args := range cmds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = e.kan(args...)
				noPanic(t, args, results[i])
			}()
		}
		close(start)
		wg.Wait()
		return results
	}
	create := []string{"create", "--bundle", bundle, id}
	var cmds [][]string
	for i := 0; i < 10; i++ {
		cmds = append(cmds, create)
	}
	for _, c := range [][]string{{"state", id}, {"start", id}, {"kill", id, "0"}, {"state", id}, {"list"}} {
		cmds = append(cmds, c, c)
	}
	results := runAll(cmds)
	wins := 0
	for i := 0; i < 10; i++ {
		if results[i].code == 0 {
			wins++
		} else if !strings.Contains(results[i].stderr, "already exists") {
			t.Errorf("losing create: %v", results[i])
		}
	}
	if wins != 1 {
		t.Fatalf("%d of 10 concurrent creates won, want exactly 1", wins)
	}

	rounds := pick(3, 25)
	wins, deletes := 1, 0
	// Plain delete (no --force) succeeds only when it removes the
	// container, so that successes can be counted.
	kinds := [][]string{create, {"start", id}, {"kill", id, "KILL"}, {"delete", id}, {"state", id}}
	for round := 0; round < rounds; round++ {
		cmds = cmds[:0]
		for i := 0; i < 20; i++ {
			cmds = append(cmds, kinds[rand.Intn(len(kinds))])
		}
		for i, r := range runAll(cmds) {
			switch {
			case r.code != 0:
			case cmds[i][0] == "create":
				wins++
			case cmds[i][0] == "delete":
				deletes++
			}
		}
		exists := 0
		if r := e.kan("state", id); r.code == 0 {
			exists = 1
			if s := e.status(id); s != "created" && s != "running" && s != "stopped" {
				t.Errorf("round %d: status %q", round, s)
			}
		}
		if wins-deletes != exists {
			t.Fatalf("round %d: %d creates won, %d deletes succeeded, container exists: %d", round, wins, deletes, exists)
		}
	}
	close(stop)
	watcher.Wait()
	e.must("delete", "--force", id)
	e.assertNoLeak(id, 0, 0, mounts)
	t.Logf("%d rounds of 20 commands: %d creates won, %d deletes; %d state.json reads, all parsed", rounds, wins, deletes, reads.Load())
}

// TestParallelContainers: many containers created, started and deleted
// at once on 2 cores, with nothing left behind.
func TestParallelContainers(t *testing.T) {
	e := newEnv(t)
	n := pick(100, 300)
	// Each container in flight costs a kan and an init, some tens of MB
	// at the peak: fewer on a small host, so that it tests kan, not the
	// OOM killer.
	if fit := int(memAvailable(t) / (50 << 20)); fit < n {
		t.Logf("MemAvailable allows %d containers at once, not %d", max(fit, 10), n)
		n = max(fit, 10)
	}
	mounts := hostMounts(t)
	cgBefore := cgroupDirs()
	bundle := newBundle(t, "sleep", "1000").write(t)
	var wg sync.WaitGroup
	var failures atomic.Int64
	ids := make([]string, n)
	startAt := time.Now()
	for i := range ids {
		ids[i] = newID(t)
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			for _, args := range [][]string{{"create", "--bundle", bundle, id}, {"start", id}, {"state", id}, {"delete", "--force", id}} {
				r := e.kan(args...)
				noPanic(t, args, r)
				if r.code != 0 {
					failures.Add(1)
					t.Errorf("kan %v: %v", args, r)
					e.kan("delete", "--force", id)
					return
				}
			}
		}(ids[i])
	}
	wg.Wait()
	for _, id := range ids {
		if pids := procsInCgroup(id); len(pids) > 0 {
			t.Errorf("%s: processes left: %v", id, pids)
		}
		e.assertGone(id)
	}
	if left := e.stateEntries(); len(left) > 0 {
		t.Errorf("state root: %d entries left", len(left))
	}
	if got := cgroupDirs(); got != cgBefore {
		t.Errorf("cgroups under kan/: %d before, %d after", cgBefore, got)
	}
	if diff := mountDiff(mounts, hostMounts(t)); len(diff) > 0 {
		t.Errorf("host mount table changed: %v", diff)
	}
	t.Logf("%d containers in parallel: %d failures, %v", n, failures.Load(), time.Since(startAt).Round(time.Millisecond))
}

// soakSnapshot is what must not grow across many container lifecycles.
type soakSnapshot struct {
	fds, mounts, cgroups, stateEntries int
}

// grewFrom tells whether any count is higher than in before. One may be
// lower: the test's own fds include pipes of a command started before
// (the container's) that os/exec closes in its own time.
func (s soakSnapshot) grewFrom(before soakSnapshot) bool {
	return s.fds > before.fds || s.mounts > before.mounts || s.cgroups > before.cgroups || s.stateEntries > before.stateEntries
}

func (e *env) soakSnapshot(t *testing.T) soakSnapshot {
	n := 0
	for _, l := range strings.Split(hostMounts(t), "\n") {
		if !foreign(l) {
			n++
		}
	}
	return soakSnapshot{
		fds:          openFds(),
		mounts:       n,
		cgroups:      cgroupDirs(),
		stateEntries: len(e.stateEntries()),
	}
}

// rssStats summarises kan's peak RSS (KiB) over a window of calls.
func meanRSS(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	var sum int64
	for _, x := range v {
		sum += x
	}
	return sum / int64(len(v))
}

func window(n int) int { return min(100, max(10, n/5)) }

// TestSoakRunDelete: sequential run/delete cycles (50; 1,000 under make
// stress). Host fds, mounts, cgroups and state entries are the same after
// as before, no process is left, and kan's peak RSS (from wait4's rusage)
// does not grow from the first to the last calls.
func TestSoakRunDelete(t *testing.T) {
	e := newEnv(t)
	n := pick(50, 1000)
	b := newBundle(t, "true").write(t)
	before := e.soakSnapshot(t)
	var rss []int64
	startAt := time.Now()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("soak-%d-%d", os.Getpid(), i)
		r, ps := e.kanEnv(nil, "run", "--bundle", b, id)
		if r.code != 0 {
			t.Fatalf("cycle %d: %v", i, r)
		}
		rss = append(rss, maxRSS(ps))
		if pids := procsInCgroup(id); len(pids) > 0 {
			t.Fatalf("cycle %d: processes left: %v", i, pids)
		}
	}
	elapsed := time.Since(startAt)
	after := e.soakSnapshot(t)
	w := window(n)
	first, last := meanRSS(rss[:w]), meanRSS(rss[n-w:])
	t.Logf("%d run/delete cycles in %v; before %+v after %+v; kan peak RSS first %d: %d KiB, last %d: %d KiB",
		n, elapsed.Round(time.Millisecond), before, after, w, first, w, last)
	if after.grewFrom(before) {
		t.Errorf("resources grew: before %+v, after %+v", before, after)
	}
	if last > first+first/5 {
		t.Errorf("kan's peak RSS grew: %d KiB -> %d KiB", first, last)
	}
}

// TestSoakExec: sequential execs into one container (50; 1,000 under make
// stress), the same measures, and only the init left in the container.
func TestSoakExec(t *testing.T) {
	e := newEnv(t)
	n := pick(50, 1000)
	id := e.running(sleeper(t))
	before := e.soakSnapshot(t)
	var rss []int64
	startAt := time.Now()
	for i := 0; i < n; i++ {
		r, ps := e.kanEnv(nil, "exec", id, "sh", "-c", "echo "+strconv.Itoa(i))
		if r.code != 0 || r.stdout != strconv.Itoa(i)+"\n" {
			t.Fatalf("exec %d: %v", i, r)
		}
		rss = append(rss, maxRSS(ps))
	}
	elapsed := time.Since(startAt)
	waitFor(t, "only the init in the container", func() bool { return len(procsInCgroup(id)) == 1 })
	after := e.soakSnapshot(t)
	w := window(n)
	first, last := meanRSS(rss[:w]), meanRSS(rss[n-w:])
	t.Logf("%d execs in %v; before %+v after %+v; kan peak RSS first %d: %d KiB, last %d: %d KiB",
		n, elapsed.Round(time.Millisecond), before, after, w, first, w, last)
	if after.grewFrom(before) {
		t.Errorf("resources grew: before %+v, after %+v", before, after)
	}
	if last > first+first/5 {
		t.Errorf("kan's peak RSS grew: %d KiB -> %d KiB", first, last)
	}
}
