package main

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"-1": -1, "0": 0, "1024": 1024, "100b": 100, "100k": 100 << 10, "100m": 100 << 20, "100M": 100 << 20,
		"100mb": 100 << 20, "100MiB": 100 << 20, "1g": 1 << 30, "1.5g": 3 << 29, "2 GB": 2 << 30, "1t": 1 << 40, "1p": 1 << 50,
	}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-2", "m", "1x", "1e6", "100 m b", "1.g", "-1m", "99999999p"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}
