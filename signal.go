package main

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// parseSignal accepts a signal as runc does: a number (0-64; 0 sends
// nothing and only checks that the target exists, as with kill(2)), or a
// name with or without "SIG", in any case ("KILL", "SIGKILL", "term"), or
// a real-time signal as RTMIN+n / RTMAX-n.
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("signal %d: out of range 0-64", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	name = strings.TrimPrefix(name, "SIG")
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	// glibc reserves 32 and 33; RTMIN is 34 to programs.
	const rtmin, rtmax = 34, 64
	if rest, ok := strings.CutPrefix(name, "RTMIN"); ok {
		if n, err := rtOffset(rest, "+"); err == nil && rtmin+n <= rtmax {
			return unix.Signal(rtmin + n), nil
		}
	}
	if rest, ok := strings.CutPrefix(name, "RTMAX"); ok {
		if n, err := rtOffset(rest, "-"); err == nil && rtmax-n >= rtmin {
			return unix.Signal(rtmax - n), nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func rtOffset(rest, sign string) (int, error) {
	if rest == "" {
		return 0, nil
	}
	num, ok := strings.CutPrefix(rest, sign)
	if !ok {
		return 0, fmt.Errorf("bad offset %q", rest)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad offset %q", rest)
	}
	return n, nil
}
