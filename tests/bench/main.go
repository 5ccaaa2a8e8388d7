// Command bench measures kan against runc and crun on the same bundle, in
// the same run, alternating runtimes at every iteration, and writes the
// report (docs/performance.md and a plot). `make bench` runs it inside a
// private mount namespace whose /sys/fs/cgroup is the host's cgroup2
// hierarchy, so that all three runtimes work in one cgroup v2 setting.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

type rt struct {
	name string
	bin  string
	root string
	args []string // global options
}

type sample struct {
	d   time.Duration
	err error
}

func main() {
	kan := flag.String("kan", "./kan", "kan binary")
	runc := flag.String("runc", "runc", "runc binary")
	crun := flag.String("crun", "crun", "crun binary")
	floor := flag.String("floor", "", "the floor helper (tests/bench/floor/floor.c)")
	maxrss := flag.String("maxrss", "", "the peak-RSS wrapper (tests/bench/floor/maxrss.c)")
	rootfs := flag.String("rootfs", "", "busybox rootfs for the bundle")
	n := flag.Int("n", 30, "iterations of the single-container cases")
	out := flag.String("out", "docs/performance.md", "report to write")
	plot := flag.String("plot", "docs/performance.png", "plot to write")
	minMem := flag.String("min-memory", "", "smallest memory.max kan's container starts under, from the VM")
	stopwatch := flag.String("stopwatch", "tests/bench/stopwatch.sh", "the shell-loop cross-check")
	flag.BoolVar(&vm, "vm", false, "the systemd VM's part (tests/bench/sysvm.sh): crun with its cgroup and device filter, no 100 and 50 container cases, the report's table only")
	flag.StringVar(&vmReport, "vm-report", "", "the VM part's report, to include")
	flag.Parse()
	rssWrapper, stopwatchScript = *maxrss, *stopwatch
	if err := run(*kan, *runc, *crun, *floor, *rootfs, *n, *out, *plot, *minMem); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// vm: this is the systemd VM's part; vmReport: that part's report.
var (
	vm       bool
	vmReport string
)

func run(kan, runc, crun, floor, rootfs string, n int, out, plot, minMem string) error {
	// The containers' inits outlive the runtime processes that start
	// them; as a subreaper the benchmark reaps them, as a shim would.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "kan-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var rts []*rt
	for _, r := range [][2]string{{"kan", kan}, {"runc", runc}, {"crun", crun}} {
		bin, err := exec.LookPath(r[1])
		if err != nil {
			return fmt.Errorf("%s: %w", r[0], err)
		}
		bin, _ = filepath.Abs(bin)
		t := &rt{name: r[0], bin: bin, root: filepath.Join(work, r[0]+"-root")}
		if t.name == "crun" && !vm {
			// crun's eBPF device filter first raises RLIMIT_MEMLOCK to
			// infinity, which needs CAP_SYS_RESOURCE (this host's root
			// lacks it): crun runs without cgroups here, which makes its
			// numbers lower bounds (no cgroup, no device filter).
			t.args = []string{"--cgroup-manager=disabled"}
		}
		rts = append(rts, t)
	}
	bundle := filepath.Join(work, "bundle")
	sleeper := filepath.Join(work, "sleeper")
	filtered := filepath.Join(work, "seccomp")
	// Docker's default seccomp profile, as Docker puts it in a config
	// (tests/seccompprofiles made it).
	dockerProfile, err := os.ReadFile("tests/integration/testdata/seccomp-docker-default.json")
	if err != nil {
		return err
	}
	for _, b := range []struct {
		dir     string
		args    []string
		seccomp json.RawMessage
	}{{bundle, []string{"/bin/true"}, nil}, {sleeper, []string{"/bin/sleep", "100000"}, nil}, {filtered, []string{"/bin/true"}, dockerProfile}} {
		if err := writeBundle(kan, b.dir, rootfs, b.args, b.seccomp); err != nil {
			return err
		}
	}
	cgParent, err := benchCgroup()
	if err != nil {
		return err
	}
	defer os.Remove(cgParent)

	var report report
	report.setting = setting()
	report.n = n
	ids := 0
	newID := func(r *rt) string { ids++; return fmt.Sprintf("bench-%s-%d", r.name, ids) }

	// Warm up: page cache, first cgroup creation.
	for _, r := range rts {
		for i := 0; i < 3; i++ {
			if s := runOnce(r, bundle, newID(r)); s.err != nil {
				return fmt.Errorf("%s run: %w", r.name, s.err)
			}
		}
	}
	cases := []struct {
		name string
		f    func(r *rt) sample
	}{
		{"run /bin/true", func(r *rt) sample { return runOnce(r, bundle, newID(r)) }},
		{"run /bin/true, Docker's seccomp profile", func(r *rt) sample { return runOnce(r, filtered, newID(r)) }},
		{"create + start + delete", func(r *rt) sample { return lifecycle(r, bundle, newID(r)) }},
	}
	for _, c := range cases {
		var sw *stopwatch
		if c.name == "run /bin/true" {
			sw = newStopwatch(c.name, rts, "run --bundle "+bundle+" {}", nil)
		}
		res := map[string][]sample{}
		for i := 0; i < n; i++ {
			for j := range rts {
				r := rts[(i+j)%len(rts)] // alternate who goes first
				res[r.name] = append(res[r.name], c.f(r))
			}
			if sw != nil {
				if err := sw.round(i); err != nil {
					return err
				}
			}
		}
		report.add(c.name, rts, res)
		if sw != nil {
			report.addCrossCheck(sw)
		}
	}

	// exec into one running container per runtime.
	execIDs := map[string]string{}
	for _, r := range rts {
		id := newID(r)
		if err := command(r, "run", "-d", "--bundle", sleeper, id).Run(); err != nil {
			return fmt.Errorf("%s run -d: %w", r.name, err)
		}
		execIDs[r.name] = id
		defer command(r, "delete", "-f", id).Run()
	}
	sw := newStopwatch("exec /bin/true", rts, "/bin/true", func(r *rt) string { return "exec " + execIDs[r.name] })
	res := map[string][]sample{}
	for i := 0; i < n; i++ {
		for j := range rts {
			r := rts[(i+j)%len(rts)]
			res[r.name] = append(res[r.name], timed(command(r, "exec", execIDs[r.name], "/bin/true")))
		}
		if err := sw.round(i); err != nil {
			return err
		}
	}
	report.add("exec /bin/true", rts, res)
	report.addCrossCheck(sw)

	// 100 containers one after the other, then 50 at once.
	for _, c := range []struct {
		name     string
		count    int
		parallel bool
	}{{"100 sequential runs (total)", 100, false}, {"50 parallel runs (total)", 50, true}} {
		if vm {
			break // too long under the VM's emulated CPU
		}
		res := map[string][]sample{}
		for rep := 0; rep < 3; rep++ {
			for j := range rts {
				r := rts[(rep+j)%len(rts)]
				res[r.name] = append(res[r.name], many(r, bundle, c.count, c.parallel, newID))
			}
		}
		report.add(c.name, rts, res)
	}

	// What Docker's seccomp profile adds to kan alone: kan's runs with
	// and without it, alternating, and nothing of the other runtimes in
	// between (their runs under the profile leave the kernel work to
	// free, which lands in whatever runs next).
	for _, r := range rts {
		if r.name != "kan" {
			continue
		}
		var plain, filteredRuns []sample
		for i := 0; i < 2*n; i++ {
			plain = append(plain, runOnce(r, bundle, newID(r)))
			filteredRuns = append(filteredRuns, runOnce(r, filtered, newID(r)))
		}
		report.seccompCost = [2][]sample{plain, filteredRuns}
	}

	// Peak RSS of one `run`, a few times each, under the C wrapper.
	report.rss = map[string]int64{}
	for _, r := range rts {
		for i := 0; i < 5; i++ {
			rss, err := peakRSS(rssWrapper, command(r, "run", "--bundle", bundle, newID(r)))
			if err != nil {
				return err
			}
			report.rss[r.name] = max(report.rss[r.name], rss)
		}
	}

	if !vm {
		if report.toMain, err = beforeMain(rts[0], n); err != nil {
			return err
		}
	}
	if floor != "" {
		var fs []sample
		for i := 0; i < n; i++ {
			fs = append(fs, timed(exec.Command(floor, rootfs, cgParent, "/bin/true")))
		}
		report.floor = fs
	}
	for _, r := range rts {
		if fi, err := os.Stat(r.bin); err == nil {
			report.sizes = append(report.sizes, [2]string{r.name, fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))})
		}
	}
	report.minMem = minMem
	if vm {
		text := report.vmMarkdown()
		fmt.Print(text)
		return os.WriteFile(out, []byte(text), 0o644)
	}
	text := report.markdown(filepath.Base(plot))
	fmt.Print(text)
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		return err
	}
	return report.plot(plot)
}

// beforeMain times kan n times from just before its fork to its main:
// kan --version with KAN_BENCH_T0, the bench's CLOCK_MONOTONIC taken then,
// which kan answers on stderr with the time it reached main.
func beforeMain(r *rt, n int) ([]sample, error) {
	var ss []sample
	for i := 0; i < n; i++ {
		cmd := exec.Command(r.bin, "--version")
		var t0 unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &t0)
		cmd.Env = append(os.Environ(), fmt.Sprintf("KAN_BENCH_T0=%d", t0.Nano()))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("kan --version: %v: %s", err, out)
		}
		var us int64
		at := strings.Index(string(out), "kan: main ")
		if at < 0 {
			return nil, fmt.Errorf("kan --version did not report reaching main: %s", out)
		}
		if _, err := fmt.Sscanf(string(out[at:]), "kan: main %d µs", &us); err != nil {
			return nil, fmt.Errorf("kan --version: %q: %v", out[at:], err)
		}
		ss = append(ss, sample{d: time.Duration(us) * time.Microsecond})
	}
	return ss, nil
}

// writeBundle writes kan's default config with args, and seccomp as its
// linux.seccomp when not nil; ociVersion 1.0.2, which all three runtimes
// accept.
func writeBundle(kan, dir, rootfs string, args []string, seccomp json.RawMessage) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command(kan, "spec", "--bundle", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kan spec: %v %s", err, out)
	}
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	cfg["ociVersion"] = "1.0.2"
	cfg["root"] = map[string]any{"path": rootfs, "readonly": true}
	p := cfg["process"].(map[string]any)
	p["terminal"] = false
	p["args"] = args
	if seccomp != nil {
		cfg["linux"].(map[string]any)["seccomp"] = seccomp
	}
	data, _ = json.MarshalIndent(cfg, "", "\t")
	return os.WriteFile(path, data, 0o644)
}

func benchCgroup() (string, error) {
	dir := fmt.Sprintf("/sys/fs/cgroup/kan-bench-floor-%d", os.Getpid())
	return dir, os.Mkdir(dir, 0o755)
}

func command(r *rt, args ...string) *exec.Cmd {
	argv := append(append([]string{r.bin}, r.args...), "--root", r.root)
	argv = append(argv, args...)
	return exec.Command(argv[0], argv[1:]...)
}

// timed runs cmd as an engine runs a runtime, and returns its time from
// the fork to the reaping of the process: stdin /dev/null, stdout and
// stderr one pipe that the caller drains (containerd's go-runc reads a
// runtime's output so). The pipe is an *os.File, so Wait does not wait for
// its end: a container's init inherits it and may outlive the command.
func timed(cmd *exec.Cmd) sample {
	rd, wr, err := os.Pipe()
	if err != nil {
		return sample{err: err}
	}
	cmd.Stdout, cmd.Stderr = wr, wr
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer rd.Close()
		buf := make([]byte, 4096)
		for {
			n, err := rd.Read(buf)
			if out.Len() < 64<<10 {
				out.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	t0 := time.Now()
	err = cmd.Start()
	wr.Close()
	if err == nil {
		err = cmd.Wait()
	}
	d := time.Since(t0)
	s := sample{d: d}
	if err != nil {
		// The output is complete once every holder of the pipe is gone;
		// a failed command's container, if any, is not running.
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		s.err = fmt.Errorf("%v: %v %s", cmd.Args, err, strings.TrimSpace(out.String()))
	}
	return s
}

// peakRSS runs cmd under the C wrapper tests/bench/floor/maxrss.c and
// returns the process's peak RSS in KiB. Not from the bench itself: Go
// starts a child as a vfork copy sharing the bench's memory, which the
// kernel counts into the child's peak.
func peakRSS(wrapper string, cmd *exec.Cmd) (int64, error) {
	f, err := os.CreateTemp("", "bench-rss-")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	w := exec.Command(wrapper, cmd.Args...)
	w.Env = append(os.Environ(), "MAXRSS_OUT="+f.Name())
	if out, err := w.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%v: %v %s", cmd.Args, err, out)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, err
	}
	var rss int64
	if _, err := fmt.Sscan(string(data), &rss); err != nil {
		return 0, fmt.Errorf("maxrss: %q: %v", data, err)
	}
	return rss, nil
}

// rssWrapper is tests/bench/floor/maxrss.c, stopwatchScript
// tests/bench/stopwatch.sh.
var rssWrapper, stopwatchScript string

// stopwatch times a case's commands again with stopwatch.sh, a plain
// shell loop with a stopwatch around each command, one round after each
// of the bench's own (the machine's speed drifts, so the two are taken
// together), and the report puts its medians beside the bench's: the two
// must agree, or the bench is not measuring what a user timing the
// commands by hand would see.
type stopwatch struct {
	name    string
	args    []string // stopwatch.sh's arguments after FIRST COUNT
	samples map[string][]sample
	// trueRuns: /bin/true timed by the bench in each round; the
	// stopwatch times it too, as "true": the callers' own costs (a Go
	// process's vfork and bash's fork differ), beside the runtimes'.
	trueRuns []sample
}

// newStopwatch: template is the command's arguments, {} a fresh container
// id; before, if not nil, gives words that go between a runtime's global
// options and the template.
func newStopwatch(name string, rts []*rt, template string, before func(*rt) string) *stopwatch {
	sw := &stopwatch{name: name, args: []string{template}, samples: map[string][]sample{}}
	for _, r := range rts {
		c := strings.Join(append(append([]string{r.bin}, r.args...), "--root", r.root), " ")
		if before != nil {
			c += " " + before(r)
		}
		sw.args = append(sw.args, r.name, c)
	}
	sw.args = append(sw.args, "true", "/bin/true")
	return sw
}

// round runs round i of the shell loop.
func (sw *stopwatch) round(i int) error {
	sw.trueRuns = append(sw.trueRuns, timed(exec.Command("/bin/true")))
	cmd := exec.Command("bash", append([]string{stopwatchScript, fmt.Sprint(i), "1"}, sw.args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("stopwatch: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var name string
		var us int64
		if _, err := fmt.Sscan(line, &name, &us); err != nil {
			return fmt.Errorf("stopwatch: %q: %v", line, err)
		}
		sw.samples[name] = append(sw.samples[name], sample{d: time.Duration(us) * time.Microsecond})
	}
	return nil
}

// addCrossCheck puts sw's medians beside those of the case of its name.
func (rp *report) addCrossCheck(sw *stopwatch) {
	cc := crossChecked{name: sw.name, shell: map[string]int64{}}
	for name, ss := range sw.samples {
		st, _ := summarize(ss)
		cc.shell[name] = st.med
	}
	cc.bench = map[string]stats{}
	for _, r := range rp.rows {
		if r.name == sw.name {
			for k, v := range r.stats {
				cc.bench[k] = v
			}
		}
	}
	cc.bench["true"], _ = summarize(sw.trueRuns)
	rp.crossChecks = append(rp.crossChecks, cc)
}

type crossChecked struct {
	name  string
	bench map[string]stats
	shell map[string]int64 // medians, µs
}

func runOnce(r *rt, bundle, id string) sample {
	return timed(command(r, "run", "--bundle", bundle, id))
}

// lifecycle is what an engine's shim does: create, start, wait for the
// init to exit (it is our child: we are a subreaper), delete. Its time is
// that of the three commands plus the wait.
func lifecycle(r *rt, bundle, id string) sample {
	pidFile := filepath.Join(os.TempDir(), id+".pid")
	defer os.Remove(pidFile)
	var total time.Duration
	step := func(args ...string) error {
		s := timed(command(r, args...))
		total += s.d
		return s.err
	}
	if err := step("create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		return sample{err: err}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return sample{err: err}
	}
	var pid int
	fmt.Sscan(string(data), &pid)
	if err := step("start", id); err != nil {
		return sample{err: err}
	}
	var ws unix.WaitStatus
	t0 := time.Now()
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); !errors.Is(err, unix.EINTR) {
			break
		}
	}
	total += time.Since(t0)
	if err := step("delete", id); err != nil {
		return sample{err: err}
	}
	return sample{d: total}
}

func many(r *rt, bundle string, count int, parallel bool, newID func(*rt) string) sample {
	ids := make([]string, count)
	for i := range ids {
		ids[i] = newID(r)
	}
	t0 := time.Now()
	var mu sync.Mutex
	var firstErr error
	failed := 0
	one := func(id string) {
		s := runOnce(r, bundle, id)
		mu.Lock()
		defer mu.Unlock()
		if s.err != nil {
			failed++
			if firstErr == nil {
				firstErr = s.err
			}
		}
	}
	if parallel {
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() { defer wg.Done(); one(id) }()
		}
		wg.Wait()
	} else {
		for _, id := range ids {
			one(id)
		}
	}
	s := sample{d: time.Since(t0)}
	if failed > 0 {
		s.err = fmt.Errorf("%d of %d failed, first: %v", failed, count, firstErr)
	}
	return s
}

// setting describes where the numbers come from.
func setting() string {
	var u unix.Utsname
	unix.Uname(&u)
	cpus := runtime.NumCPU()
	if vm {
		return fmt.Sprintf("kernel %s, %d CPUs, %s", strings.TrimRight(string(u.Release[:]), "\x00"), cpus, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	}
	return fmt.Sprintf("kernel %s, %d CPUs, %s; all three runtimes in one private mount namespace whose /sys/fs/cgroup is the host's cgroup2 hierarchy; crun with --cgroup-manager=disabled (its eBPF device filter raises RLIMIT_MEMLOCK, which root here may not), so crun creates no cgroup and no device filter",
		strings.TrimRight(string(u.Release[:]), "\x00"), cpus, time.Now().UTC().Format("2006-01-02 15:04 MST"))
}

type row struct {
	name   string
	stats  map[string]stats
	errors map[string]string
}

type stats struct{ med, p10, p90, n int64 }

type report struct {
	setting     string
	n           int
	rows        []row
	floor       []sample
	sizes       [][2]string
	minMem      string
	rss         map[string]int64
	crossChecks []crossChecked
	// seccompCost: kan's run without and with Docker's profile, alone.
	seccompCost [2][]sample
	// toMain: kan --version from the bench's clock before its fork to
	// kan's main (KAN_BENCH_T0).
	toMain []sample
}

func summarize(ss []sample) (stats, string) {
	var ds []int64
	errs := ""
	for _, s := range ss {
		if s.err != nil {
			if errs == "" {
				errs = s.err.Error()
			}
			continue
		}
		ds = append(ds, s.d.Microseconds())
	}
	if len(ds) == 0 {
		return stats{}, errs
	}
	slices.Sort(ds)
	q := func(p float64) int64 { return ds[int(p*float64(len(ds)-1)+0.5)] }
	return stats{med: q(0.5), p10: q(0.1), p90: q(0.9), n: int64(len(ds))}, errs
}

func (rp *report) add(name string, rts []*rt, res map[string][]sample) {
	r := row{name: name, stats: map[string]stats{}, errors: map[string]string{}}
	for _, t := range rts {
		st, errs := summarize(res[t.name])
		r.stats[t.name] = st
		if errs != "" {
			r.errors[t.name] = errs
		}
	}
	rp.rows = append(rp.rows, r)
	fmt.Fprintf(os.Stderr, "bench: %s done\n", name)
}

func ms(us int64) string { return fmt.Sprintf("%.1f", float64(us)/1000) }

// table writes the cases' table and their failures.
func (rp *report) table(w *strings.Builder) {
	names := []string{"kan", "runc", "crun"}
	fmt.Fprintf(w, "| case | kan | runc | crun | kan/runc | kan/crun |\n|---|---|---|---|---|---|\n")
	for _, r := range rp.rows {
		fmt.Fprintf(w, "| %s |", r.name)
		for _, nm := range names {
			s := r.stats[nm]
			if e, bad := r.errors[nm]; bad && s.n == 0 {
				fmt.Fprintf(w, " failed: %s |", strings.ReplaceAll(e, "|", "/"))
				continue
			}
			fmt.Fprintf(w, " %s (%s–%s) |", ms(s.med), ms(s.p10), ms(s.p90))
		}
		ratio := func(o string) string {
			if r.stats[o].med == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f", float64(r.stats["kan"].med)/float64(r.stats[o].med))
		}
		fmt.Fprintf(w, " %s | %s |\n", ratio("runc"), ratio("crun"))
	}
	for _, r := range rp.rows {
		for _, nm := range names {
			if e, ok := r.errors[nm]; ok {
				fmt.Fprintf(w, "\nFailures in %q for %s: %s\n", r.name, nm, e)
			}
		}
	}
}

// crossCheckTable writes the stopwatch's medians beside the bench's.
func (rp *report) crossCheckTable(w *strings.Builder) {
	names := []string{"kan", "runc", "crun", "true"}
	if len(rp.crossChecks) > 0 {
		w.WriteString("\n**Cross-check with a stopwatch** (tests/bench/stopwatch.sh: the same commands in a plain bash loop, runtimes alternating, `$EPOCHREALTIME` before and after each, stdio /dev/null), medians in ms, one round of it after each round of the case's own. " +
			"The row `true` is /bin/true timed both ways in the same rounds: what the caller itself adds (bash forks itself, the bench's Go vforks), which is in every runtime's stopwatch time too. " +
			"The last column compares the two net of that: each runtime's time less its caller's `true`. The two disagree when both ratios are more than 10% from 1 (in the emulated VM, bash's own fork costs 10 ms more than the bench's, a seventh of kan's `exec` there):\n\n")
		w.WriteString("| case | runtime | bench | stopwatch | stopwatch/bench | net of the caller |\n|---|---|---|---|---|---|\n")
		off := func(r float64) bool { return r < 0.9 || r > 1.1 }
		for _, cc := range rp.crossChecks {
			trueBench, trueShell := cc.bench["true"].med, cc.shell["true"]
			for _, nm := range names {
				bm, sw := cc.bench[nm].med, cc.shell[nm]
				if bm == 0 || sw == 0 {
					continue
				}
				ratio := float64(sw) / float64(bm)
				net, verdict := "", ""
				if nm != "true" {
					nr := float64(sw-trueShell) / float64(bm-trueBench)
					net = fmt.Sprintf("%.2f", nr)
					if off(ratio) && off(nr) {
						verdict = " **disagree by more than 10%**"
					}
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f | %s%s |\n", cc.name, nm, ms(bm), ms(sw), ratio, net, verdict)
			}
		}
	}
}

// vmMarkdown is the VM part's section: the cases and their cross-checks.
func (rp *report) vmMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## In the systemd VM, on equal work\n\nWritten by `make bench` (tests/bench/sysvm.sh) in the systemd test VM (tests/sysvm: Debian 12, systemd as PID 1, pure cgroup v2, QEMU without KVM, so every number is several times this machine's): %s. "+
		"All three runtimes make the container's cgroup (cgroupfs driver, under systemd's hierarchy) and its eBPF device filter: crun runs with its default cgroup manager there. "+
		"Timed as above, alternating, %d times each.\n\n", rp.setting, rp.n)
	rp.table(&b)
	rp.crossCheckTable(&b)
	fmt.Fprintf(&b, "\n| | kan | runc | crun |\n|---|---|---|---|\n| peak RSS of one runtime process | %d KiB | %d KiB | %d KiB |\n",
		rp.rss["kan"], rp.rss["runc"], rp.rss["crun"])
	return b.String()
}

func (rp *report) markdown(plotName string) string {
	var b strings.Builder
	names := []string{"kan", "runc", "crun"}
	fmt.Fprintf(&b, "# Performance\n\nWritten by `make bench` (tests/bench). Setting: %s. "+
		"Each case alternates the runtimes (A B C, B C A, …); times are wall-clock milliseconds, "+
		"median with the 10th–90th percentile; single-container cases %d times each, the 100 and 50 container cases 3 times each. "+
		"Each runtime command (and the floor) is timed by the benchmark itself as a whole process, from its fork to its reaping, "+
		"with stdin /dev/null and stdout and stderr a pipe the benchmark reads, as an engine runs a runtime; "+
		"create + start + delete is the sum of the three commands and the wait for the container's exit, "+
		"the 100 and 50 container cases are wall-clock totals seen by the benchmark.\n\n", rp.setting, rp.n)
	rp.table(&b)
	rp.crossCheckTable(&b)
	if len(rp.floor) > 0 {
		st, _ := summarize(rp.floor)
		fmt.Fprintf(&b, "\n**Floor** (tests/bench/floor/floor.c: the same namespaces, cgroup, mounts, pivot_root and execve, from a static C helper with nothing else): %s ms (%s–%s). ", ms(st.med), ms(st.p10), ms(st.p90))
		if len(rp.rows) > 0 {
			fmt.Fprintf(&b, "Above the floor, for `run`: ")
			for _, nm := range names {
				fmt.Fprintf(&b, "%s +%s ms; ", nm, ms(rp.rows[0].stats[nm].med-st.med))
			}
		}
		b.WriteString("\n")
	}
	if len(rp.toMain) > 0 {
		st, _ := summarize(rp.toMain)
		fmt.Fprintf(&b, "\n**kan's start** (`kan --version` with KAN_BENCH_T0, the benchmark's clock just before the fork; kan reports when it reaches `main`, %d times): fork to `main` %s ms (%s–%s): the fork and execve, the Go runtime's start and the package inits. For comparison, /bin/true takes the row `true` of the cross-check above, fork to reaping.\n",
			len(rp.toMain), ms(st.med), ms(st.p10), ms(st.p90))
	}
	fmt.Fprintf(&b, "\n| | kan | runc | crun |\n|---|---|---|---|\n| peak RSS of one runtime process | %d KiB | %d KiB | %d KiB |\n",
		rp.rss["kan"], rp.rss["runc"], rp.rss["crun"])
	fmt.Fprintf(&b, "| binary size |")
	for _, s := range rp.sizes {
		fmt.Fprintf(&b, " %s |", s[1])
	}
	b.WriteString("\n")
	if len(rp.seccompCost[0]) > 0 {
		plain, _ := summarize(rp.seccompCost[0])
		filtered, _ := summarize(rp.seccompCost[1])
		fmt.Fprintf(&b, "\nWhat Docker's default seccomp profile adds to kan's `run`, kan alone, with and without it alternating (%d times each): %s ms without, %s ms with, **+%s ms**. (In the table, kan's runs under the profile follow runc's and crun's, whose filters the kernel frees meanwhile.)\n",
			len(rp.seccompCost[0]), ms(plain.med), ms(filtered.med), ms(filtered.med-plain.med))
	}
	if rp.minMem != "" {
		fmt.Fprintf(&b, "\nSmallest `memory.max` under which kan's `run` of /bin/true still succeeds, in the cgroup v2 VM (tests/vm TestSmallestMemoryMax): %s.\n", rp.minMem)
	}
	if vmReport != "" {
		data, err := os.ReadFile(vmReport)
		if err == nil {
			b.Write(data)
		} else {
			fmt.Fprintf(&b, "\n## In the systemd VM\n\nThe VM part failed: %v\n", err)
		}
	}
	if notes, err := os.ReadFile("tests/bench/notes.md"); err == nil {
		b.Write(notes)
	}
	fmt.Fprintf(&b, "\n![medians](%s)\n\nThe plot: for each case, the median of kan (blue), runc (orange), crun (green), relative to the slowest runtime of the case; the grey line is the floor's share of `run`.\n", plotName)
	return b.String()
}
