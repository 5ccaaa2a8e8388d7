// Package libcontainer turns an OCI bundle into a running, isolated Linux
// process and manages it until it is deleted.
//
// A tour, in the order things happen:
//
//   - container.go: the lifecycle — Create, Start, State, Signal, Delete —
//     and how each step is recorded in the state directory.
//   - process.go: the parent side of create: starting `kan init` from a
//     sealed copy of kan, in the container's cgroup, and the sync protocol
//     that carries ids maps, the init's pid, its config and its errors.
//   - nsenter/: the C constructor that puts `kan init` into its namespaces
//     before the Go runtime starts.
//   - init.go: the child side: rootfs, hostname, rlimits, user,
//     capabilities, then waiting for start and execve of the user program.
//   - exec.go and execplan.go: `kan exec`, which turns the process's config
//     into numbers; nsenter/laststage.c applies them inside the container.
//
// Each kernel mechanism has a package of its own: namespaces/, rootfs/,
// capabilities/, cgroups/, exeseal/ (the CVE-2019-5736 defence) and state/.
package libcontainer
