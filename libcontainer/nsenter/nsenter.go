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
// every other kan command the constructor returns at once.
//
// The protocol with the parent (see libcontainer/process.go) is a stream of
// JSON lines on the sync socket: {"type":"userns"} asks the parent to write
// the uid and gid maps, answered by {"type":"userns-done"}; {"type":"pid",
// "pid":N} ends this stage and names the process that goes on to run Go (0:
// this one, which did not fork); {"type":"error","msg":"..."} reports a
// failure.
//
// When a config only creates namespaces, and neither a user nor a time
// namespace, kan's clone creates them all and nsenter has nothing to do
// but report.
//
// The process `kan exec` adds goes no further than C: once it is in the
// container's namespaces, the exec stage (laststage.c) reads the plan kan
// exec made of the process's config (plan.go, laststage.h: fixed fields,
// then the groups and strings, sent right after the "pid" line) and
// becomes the program, so no Go runtime ever starts inside the container
// for an exec.
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
