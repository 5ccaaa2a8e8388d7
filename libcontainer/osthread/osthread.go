// Package osthread runs code on an OS thread of its own that is thrown
// away afterwards: for work that changes what belongs to a thread
// (namespaces, root, working directory) and must not leave the change on a
// thread the Go runtime would reuse, nor on the process's main thread,
// which /proc/self follows.
package osthread

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Isolated runs f on a thread locked to it and retired when f returns,
// whatever state f left it in. The thread is never the main thread: Go
// cannot retire that one, only park it, and kan's main goroutine holds it
// (main.go), but a caller of this package may not.
func Isolated(f func() error) error {
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the goroutine exits locked, so Go ends the
		// thread with it.
		runtime.LockOSThread()
		if unix.Gettid() != unix.Getpid() {
			done <- f()
			return
		}
		// Holding the main thread, hand the work to a goroutine that
		// cannot be scheduled here, and give the main thread back.
		inner := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			inner <- f()
		}()
		err := <-inner
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}
