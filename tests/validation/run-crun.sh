#!/bin/bash
# Run the validation suite against crun on a hybrid-cgroup host.
#
# usage: tests/validation/run-crun.sh [run.sh options and tests, except -r]
#
# crun refuses to run in hybrid mode when the cgroup2 mount has controllers
# ("cgroups in hybrid mode not supported, drop all controllers from
# cgroupv2"; here hugetlb sits on /sys/fs/cgroup/unified). So the whole run
# (crun and the test binaries, which inspect cgroups from outside the
# container) goes into a private mount namespace whose view of the cgroup
# mounts is changed; the umounts happen only inside that new namespace
# (unshare -m, private propagation), the host's mounts are untouched.
#
#   CRUN_CGROUPS=v1 (default): hide /sys/fs/cgroup/unified, so crun sees a
#     legacy cgroup v1 host and uses the v1 controllers as runc does.
#   CRUN_CGROUPS=v2: replace /sys/fs/cgroup with a cgroup2 mount. On this
#     host only hugetlb is on cgroup2, and crun's eBPF device filter first
#     raises RLIMIT_MEMLOCK to infinity, which fails without
#     CAP_SYS_RESOURCE ("setrlimit (RLIM_MEMLOCK): Operation not permitted").
#
# crun-runtime.sh fixes up ociVersion for crun 1.8.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=${CRUN_CGROUPS:-v1}
case $mode in
v1 | v2) ;;
*) echo "run-crun.sh: CRUN_CGROUPS must be v1 or v2" >&2; exit 2 ;;
esac
exec unshare -m --propagation private -- /bin/sh -c '
	set -e
	mode=$1 rs=$2 rt=$3
	shift 3
	if [ "$mode" = v2 ]; then
		umount -l /sys/fs/cgroup
		mount -t cgroup2 none /sys/fs/cgroup
	elif mountpoint -q /sys/fs/cgroup/unified; then
		umount -l /sys/fs/cgroup/unified
	fi
	exec "$rs" -r "$rt" "$@"
' run-crun "$mode" "$here/run.sh" "$here/crun-runtime.sh" "$@"
