package cgroups

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
)

func TestReadStats(t *testing.T) {
	_, dir := fakeTree(t, "")
	for f, v := range map[string]string{
		"cpu.stat":                 "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 2\nthrottled_usec 1\n",
		"memory.current":           "4096\n",
		"memory.max":               "max\n",
		"memory.peak":              "8192\n",
		"memory.events":            "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n",
		"memory.stat":              "anon 100\nfile 200\n",
		"memory.swap.current":      "0\n",
		"memory.swap.max":          "max\n",
		"pids.current":             "3\n",
		"pids.max":                 "10\n",
		"io.stat":                  "7:0 rbytes=512 wbytes=1024 rios=1 wios=2 dbytes=0 dios=0\n",
		"hugetlb.2MB.current":      "0\n",
		"hugetlb.2MB.events":       "max 5\n",
		"hugetlb.2MB.rsvd.current": "0\n",
	} {
		writeTest(t, filepath.Join(dir, f), v)
	}
	s, err := ReadStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Usage.Total != 10000 || s.CPU.Usage.User != 6000 || s.CPU.Usage.Kernel != 4000 || s.CPU.Throttling.ThrottledPeriods != 2 {
		t.Errorf("cpu: %+v", s.CPU)
	}
	if s.Memory.Usage.Usage != 4096 || s.Memory.Usage.Limit != math.MaxUint64 || s.Memory.Usage.Max != 8192 ||
		s.Memory.Usage.Failcnt != 7 || s.Memory.Cache != 200 || s.Memory.Raw["anon"] != 100 || s.Memory.Swap.Limit != math.MaxUint64 {
		t.Errorf("memory: %+v", s.Memory)
	}
	if s.Pids.Current != 3 || s.Pids.Limit != 10 {
		t.Errorf("pids: %+v", s.Pids)
	}
	if b := s.Blkio.IoServiceBytesRecursive; len(b) != 2 || b[0].Op != "Read" || b[0].Value != 512 || b[1].Major != 7 {
		t.Errorf("blkio: %+v", s.Blkio)
	}
	if h, ok := s.Hugetlb["2MB"]; !ok || h.Failcnt != 5 || len(s.Hugetlb) != 1 {
		t.Errorf("hugetlb: %+v", s.Hugetlb)
	}
	if n, ok, err := OOMKills(dir); n != 1 || !ok || err != nil {
		t.Errorf("OOMKills: %d %v %v", n, ok, err)
	}
}

func TestReadStatsLeavesOutMissingControllers(t *testing.T) {
	_, dir := fakeTree(t, "")
	s, err := ReadStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(s)
	if string(data) != "{}" {
		t.Errorf("stats of an empty cgroup: %s", data)
	}
	if _, ok, err := OOMKills(dir); ok || err != nil {
		t.Errorf("OOMKills without memory: %v %v", ok, err)
	}
}
