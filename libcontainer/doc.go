// Package libcontainer turns an OCI bundle into a running, isolated Linux
// process and manages it until it is deleted.
//
// A tour, in the order things happen:
//
//   - config/: the door — kan's model of a container and of its process,
//     the OCI config decoded and checked once (config.New, NewProcess);
//     nothing past it reads runtime-spec's specs.Spec.
//   - container.go: the lifecycle — Create (in phases: check, claim,
//     start, build, finish), Start, State, Signal, Delete — and how each
//     step is recorded in the state directory.
//   - execplan.go: the plan of a process — its model (config.Process, the
//     numbers the applier applies: ids, capabilities, rlimits, attributes)
//     with where it finds its fds and the compiled seccomp filter
//     (seccomp/).
//   - process.go: the parent side: starting `kan init` from a sealed copy
//     of kan, in the container's cgroup, with the fds childFds names; and
//     sync.go, the protocol with it, drawn as a ladder.
//   - nsenter/: the C that runs before any Go: the constructor that puts
//     `kan init` into its namespaces, and the applier (laststage.c), the one
//     implementation of "become the container's process" — for the C init
//     (initstage.c), the Go init (applier.go) and `kan exec`.
//   - outside.go: the init that runs no Go: kan builds the rootfs from a
//     thread of its own in the container's namespaces.
//   - init.go: the Go init, for the configs kan cannot build from
//     outside (joined namespaces, user namespaces, hooks, ...): rootfs,
//     hooks, hostname, sysctls, then the applier.
//   - exec.go: `kan exec`, a new process in a running container.
//   - checkpoint.go: `kan checkpoint` and `kan restore`, with criu
//     (driven by criu/): a restore makes the state and cgroup as create
//     does, then criu puts the saved processes in them.
//
// Each kernel mechanism has a package of its own: namespaces/, rootfs/,
// capabilities/, cgroups/, console/, seccomp/, exeseal/ (the CVE-2019-5736
// defence), lsm/, netdev/, criu/ and state/.
package libcontainer
