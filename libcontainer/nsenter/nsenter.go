// Package nsenter moves the kan init process into its namespaces before the
// Go runtime starts, and is all of the process that `kan exec` adds.
//
// The kernel refuses setns(2) into a user namespace (and into a time or mount
// namespace) from a multi-threaded process, and the Go runtime has started
// several threads before any Go code runs. So the one piece of kan that is not
// Go lives here: a C constructor that runs in `kan init` before the runtime,
// joins the namespaces named in its environment, creates the new ones, and
// forks once more when a pid or time namespace must apply to the process
// itself. Importing this package (for its side effect) is all it takes; in
// every other kan command the constructor returns at once, but for a `run`
// or `exec` in the foreground, whose signals it holds from the first
// instruction (sigmask.go).
//
// The protocol with kan — the environment, the sync socket's JSON lines,
// the plan and the requests — is drawn once, as a ladder, in
// libcontainer/sync.go. When a config only creates namespaces, and
// neither a user nor a time namespace, kan's clone creates them all and
// nsenter has nothing to do but report.
//
// After nsenter, the process goes no further than C unless it is the Go
// init: the exec stage (laststage.c) and the C init (initstage.c) read the
// plan kan made of the process's config (plan.go, laststage.h) and become
// the process with the applier, which the Go init calls too
// (applier.go).
package nsenter

// #cgo CFLAGS: -Wall -Werror -O2
import "C"

// Environment variables read by the constructor. The parent sets them only
// for `kan init`.
const (
	EnvSync        = "_KAN_SYNC"         // fd of the sync socket
	EnvJoin        = "_KAN_NS_JOIN"      // "fd:type,fd:type" namespaces to join
	EnvNew         = "_KAN_NS_NEW"       // clone flags (hex) of namespaces to create
	EnvTimeOffsets = "_KAN_TIME_OFFSETS" // contents for /proc/self/timens_offsets
)
