package main

import "testing"

func TestReadsConfig(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "c1"}, true},
		{[]string{"create", "--bundle", "b", "c1"}, true},
		{[]string{"--root", "run", "state", "c1"}, false},
		{[]string{"--debug", "--log", "/tmp/l", "run", "c1"}, true},
		{[]string{"--root=/x", "create", "c1"}, true},
		{[]string{"state", "run"}, false},
		{[]string{"exec", "c1", "run"}, false},
		{nil, false},
	} {
		if got := readsConfig(c.args); got != c.want {
			t.Errorf("readsConfig(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
