package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	good := map[string]unix.Signal{
		"KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL, "kill": unix.SIGKILL, "9": unix.SIGKILL,
		"TERM": unix.SIGTERM, "sigterm": unix.SIGTERM, "15": unix.SIGTERM, "HUP": unix.SIGHUP,
		"USR1": unix.SIGUSR1, "WINCH": unix.SIGWINCH, "64": 64, "0": 0,
		"RTMIN": 34, "RTMIN+3": 37, "SIGRTMAX": 64, "RTMAX-2": 62,
	}
	for in, want := range good {
		got, err := parseSignal(in)
		if err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "65", "-9", "NOPE", "SIG", "RTMIN+31", "RTMAX-31", "RTMIN-1", "9x"} {
		if got, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) = %v, want an error", in, got)
		}
	}
}
