package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kan-runtime/kan/libcontainer/nsenter"
)

// signalCatcher catches every signal kan receives, for forwarding to a
// container's process.
//
// A run or exec in the foreground holds its signals from its first
// instruction (libcontainer/nsenter, sigmask.go): those stay blocked and
// are read from a signalfd, and the runtime is asked only for the few
// it keeps unblocked. Otherwise (restore, or a command line the
// constructor could not read as a foreground one) the catcher asks the
// runtime for every signal, which is slow: the runtime enables them one
// at a time, each a round trip to its signal thread (about 3 ms for all
// of them here). Either way it asks in the background, while kan reads
// the config, and the command waits for it only just before the
// container's process is started (BeforeStart in libcontainer). Nothing
// stops the catching: it lasts until kan exits (signal.Stop would cost as
// much again). A detached command, like create, hands the container over
// and forwards nothing, so it catches nothing.
type signalCatcher struct {
	ch    chan os.Signal
	ready chan struct{}
}

// early is the catcher main starts for a run or an exec in the foreground
// (one that holds its signals), before the CLI and the config: by the
// time the process starts it has long caught every signal.
var early *signalCatcher

// startEarly starts early when kan holds its signals.
func startEarly() {
	if _, held := nsenter.HeldSignals(); held {
		early = catchSignals(false)
	}
}

func catchSignals(detached bool) *signalCatcher {
	if early != nil && !detached {
		return early
	}
	s := &signalCatcher{ch: make(chan os.Signal, 64), ready: make(chan struct{})}
	if detached {
		close(s.ready)
		return s
	}
	// SIGPIPE now, before anything else: a write of kan's to a stdout or
	// stderr whose reader is gone (a --debug log line, an error) must fail
	// with EPIPE, not end kan, whose container still runs. The runtime
	// raises SIGPIPE for such a write and dies of it unless os/signal
	// asked for it (TestRunSurvivesClosedStderr).
	signal.Notify(s.ch, unix.SIGPIPE)
	if _, held := nsenter.HeldSignals(); !held {
		go func() {
			signal.Notify(s.ch)
			close(s.ready)
		}()
		return s
	}
	// What is still blocked on this thread (main's, locked to it) is
	// blocked on every thread of kan: the signalfd's; the rest, the
	// runtime's.
	var blocked unix.Sigset_t
	unix.PthreadSigmask(unix.SIG_BLOCK, nil, &blocked)
	// SIGCHLD and SIGURG are not asked for: kan forwards neither, and
	// the runtime ignores them when nobody asked. Each signal asked for
	// is a round trip to the runtime's signal thread, which holds up the
	// command's other goroutines (kan's sealed executable) for 80 µs.
	var unblocked []os.Signal
	for sig := unix.Signal(1); sig <= 64; sig++ {
		switch sig {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGURG:
			continue
		}
		if blocked.Val[(sig-1)/64]&(1<<((sig-1)%64)) == 0 {
			unblocked = append(unblocked, sig)
		}
	}
	if err := readSignalfd(&blocked, s.ch); err != nil {
		// Without it, the blocked signals would never be forwarded.
		fmt.Fprintf(os.Stderr, "kan: catch signals: %v\n", err)
		os.Exit(1)
	}
	go func() {
		signal.Notify(s.ch, unblocked...)
		close(s.ready)
	}()
	return s
}

// readSignalfd passes on to ch every signal of set that kan receives, from
// a signalfd read by a goroutine of its own.
func readSignalfd(set *unix.Sigset_t, ch chan<- os.Signal) error {
	fd, err := unix.Signalfd(-1, set, unix.SFD_CLOEXEC|unix.SFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("signalfd: %w", err)
	}
	// Non-blocking: read through the runtime's poller.
	f := os.NewFile(uintptr(fd), "signalfd")
	go func() {
		var info unix.SignalfdSiginfo
		size := int(unsafe.Sizeof(info))
		buf := make([]byte, 16*size)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+size <= n; off += size {
				ch <- unix.Signal(binary.NativeEndian.Uint32(buf[off:]))
			}
		}
	}()
	return nil
}

// wait returns once every signal is caught, so that none sent from then on
// is lost.
func (s *signalCatcher) wait() { <-s.ready }

// forward passes every caught signal on to the container's process pid,
// except those that are about kan's own children or runtime; a window size
// change resizes the container's terminal instead.
func (s *signalCatcher) forward(pid int, term *terminal) {
	for sig := range s.ch {
		sig := sig.(unix.Signal)
		switch sig {
		case unix.SIGCHLD, unix.SIGURG: // ours; SIGURG is Go's preemption
			continue
		case unix.SIGWINCH:
			if term != nil {
				term.resize()
				continue
			}
		}
		unix.Kill(pid, sig)
	}
}
