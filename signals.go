package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// signalCatcher catches every signal kan receives, for forwarding to a
// container's process.
//
// Asking for all signals is slow: the Go runtime enables them one at a
// time, each a round trip to its signal thread (about 3 ms for all of them
// here). So the catcher asks in the background, while kan reads the config,
// and the command waits for it only just before the container's process
// is started (BeforeStart in libcontainer). Nothing
// stops the catching: it lasts until kan exits (signal.Stop would cost as
// much again). A detached command, like create, hands the container over
// and forwards nothing, so it catches nothing.
type signalCatcher struct {
	ch    chan os.Signal
	ready chan struct{}
}

// early is the catcher main starts for a run or an exec in the foreground
// as soon as the command line names one, before the CLI and the config:
// by the time the process starts it has long caught every signal, and
// the command does not wait for it.
var early *signalCatcher

// startEarly starts early when args (without argv[0]) are a run or exec
// without --detach.
func startEarly(args []string) {
	if name := commandName(args); (name == "run" || name == "exec") && !detached(args) {
		early = catchSignals(false)
	}
}

// detached tells whether args hold run's or exec's -d/--detach. A value
// spelled otherwise than true (--detach=1) is not seen here; the command
// then catches nothing of its own, and the early catcher keeps the signals
// it caught unforwarded, as a detached command has no process to pass
// them to.
func detached(args []string) bool {
	for _, a := range args {
		switch a {
		case "-d", "--detach", "-detach", "-d=true", "--detach=true":
			return true
		case "--":
			return false
		}
	}
	return false
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
	go func() {
		signal.Notify(s.ch)
		close(s.ready)
	}()
	return s
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
