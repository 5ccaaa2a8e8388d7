#!/bin/bash
# make bench: kan against runc and crun (installed from Debian if missing),
# and the floor, in one run; writes docs/performance.md and its plot.
#   tests/bench/run.sh KAN_BINARY
# Env: BENCH_N (iterations of the single-container cases, default 30),
# BENCH_VM=0 to skip the VM parts: the smallest memory.max (tests/vm) and
# kan, runc and crun on equal work in the systemd VM (sysvm.sh,
# BENCH_VM_N iterations, default 30).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kan=$(realpath "$1")
need=""
command -v runc >/dev/null || need="$need runc"
command -v crun >/dev/null || need="$need crun"
command -v gcc >/dev/null || need="$need gcc libc6-dev"
if [ -n "$need" ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
work=$(mktemp -d /tmp/kan-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
gcc -O2 -static -o "$work/floor" "$here/floor/floor.c"
gcc -O2 -static -o "$work/maxrss" "$here/floor/maxrss.c"
(cd "$repo" && ${GO:-go} build -o "$work/bench" ./tests/bench)
"$here/../mkrootfs.sh" "$work/rootfs" >/dev/null

minmem=""
: >"$work/vm.md"
if [ "${BENCH_VM:-1}" != 0 ]; then
	# Equal work with crun: in the systemd VM, where crun makes its cgroup
	# and device filter too.
	if ! "$here/sysvm.sh" "$kan" >"$work/vm.md"; then
		echo "bench: the systemd VM part failed" >&2
		exit 1
	fi
	# The smallest memory.max, measured in the cgroup v2 VM.
	if out=$(make -s -C "$repo" vmtest TESTFLAGS=-test.run=TestSmallestMemoryMax 2>&1); then
		minmem=$(sed -n 's/.*smallest memory.max: \(.*\)$/\1/p' <<<"$out" | head -n1)
	else
		echo "bench: the VM measurement failed:" >&2
		tail -n 20 <<<"$out" >&2
		exit 1
	fi
fi

# One private mount namespace with the host's cgroup2 hierarchy at
# /sys/fs/cgroup: crun needs it there, and all three share the setting.
cd "$repo"
unshare -m --propagation private sh -c '
	umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh \
	"$work/bench" -kan "$kan" -runc "$(command -v runc)" -crun "$(command -v crun)" \
	-floor "$work/floor" -maxrss "$work/maxrss" -stopwatch "$here/stopwatch.sh" -rootfs "$work/rootfs" -n "${BENCH_N:-30}" -min-memory "$minmem" -vm-report "$work/vm.md" \
	-out docs/performance.md -plot docs/performance.png
