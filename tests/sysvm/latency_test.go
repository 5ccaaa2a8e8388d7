//go:build sysvm

package sysvm

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

var latencyN = flag.Int("latency.n", 0, "TestLatency: runs of each engine command with each runtime (make sysvm-latency)")

// TestLatency measures, in the VM, the time a user waits with each
// runtime behind each engine at its defaults (systemd cgroup driver,
// seccomp): `podman run --rm IMAGE true`, `docker run --rm IMAGE true`,
// and a CRI pod with one container running (RunPodSandbox, then
// CreateContainer and StartContainer, as the kubelet sends them). Runtimes
// alternate within each round, so that drift in the machine's speed falls
// on all alike. Prints a Markdown table of medians (docs/performance.md).
// Speed is not asserted: make sysvm-latency runs it with -latency.n.
func TestLatency(t *testing.T) {
	n := *latencyN
	if n == 0 {
		t.Skip("a measurement, not a test: make sysvm-latency runs it (-latency.n)")
	}
	dockerSetup(t)
	criSetup(t)
	podmanOnce.Do(func() { must(t, "podman", "import", "--change", `CMD ["/bin/sh"]`, rootfsTar(t), "bbox") })
	cri := criBin(t)
	rts := []string{"kan", "runc", "crun"}
	paths := map[string]string{"kan": kanBin, "runc": runcPath, "crun": crunPath}
	timed := func(name string, args ...string) time.Duration {
		t0 := time.Now()
		must(t, name, args...)
		return time.Since(t0)
	}
	cases := []struct {
		name string
		run  func(rt string, i int) time.Duration
	}{
		{"podman run --rm IMAGE true", func(rt string, i int) time.Duration {
			return timed("podman", "--runtime", paths[rt], "run", "--rm", "localhost/bbox", "true")
		}},
		{"docker run --rm IMAGE true", func(rt string, i int) time.Duration {
			return timed("docker", "run", "--rm", "--runtime", rt, "bbox", "true")
		}},
		{"CRI pod + 1 container running", func(rt string, i int) time.Duration {
			uid := fmt.Sprintf("lat%s%d", rt, i)
			slice := "kubepods-besteffort-pod" + uid + ".slice"
			logDir := t.TempDir()
			t0 := time.Now()
			pod := strings.TrimSpace(must(t, cri, "-a", criSock, "-cgroup-parent", slice, "runp", rt, uid, logDir))
			ctr := strings.TrimSpace(must(t, cri, "-a", criSock, "-cgroup-parent", slice, "create", pod, "localhost/bbox:latest", "c", "sleep", "999"))
			must(t, cri, "-a", criSock, "start", ctr)
			d := time.Since(t0)
			must(t, cri, "-a", criSock, "stopp", pod)
			must(t, cri, "-a", criSock, "rmp", pod)
			return d
		}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| in the systemd VM (TCG, 2 vCPUs), median of %d | kan | runc | crun |\n|---|---|---|---|\n", n)
	for _, c := range cases {
		times := map[string][]time.Duration{}
		for _, rt := range rts { // a warm-up run each, not counted
			c.run(rt, -1)
		}
		for i := 0; i < n; i++ {
			for _, rt := range rts {
				times[rt] = append(times[rt], c.run(rt, i))
			}
		}
		fmt.Fprintf(&b, "| `%s` |", c.name)
		for _, rt := range rts {
			fmt.Fprintf(&b, " %s |", median(times[rt]).Round(time.Millisecond))
		}
		b.WriteString("\n")
	}
	fmt.Println(b.String())
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
