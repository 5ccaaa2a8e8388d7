#!/bin/bash
# make bench's part in the systemd test VM (tests/sysvm: Debian 12, systemd
# as PID 1, pure cgroup v2): kan, runc and crun on equal work, each making
# the container's cgroup (cgroupfs driver) and its eBPF device filter,
# which crun cannot do on the benchmark's host. Writes the report's section
# (markdown) to stdout.
#   tests/bench/sysvm.sh KAN_BINARY
# Env: BENCH_VM_N (iterations, default 30: the VM's CPU is emulated, and
# its timings spread by ±15%).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kan=$(realpath "$1")
pl=$(mktemp -d /tmp/kan-bench-vm.XXXXXX)
trap 'rm -rf "$pl"' EXIT
cp "$kan" "$pl/kan"
cp "$here/stopwatch.sh" "$pl/stopwatch.sh"
mkdir -p "$pl/tests/integration/testdata"
cp "$repo/tests/integration/testdata/seccomp-docker-default.json" "$pl/tests/integration/testdata/"
gcc -O2 -static -o "$pl/maxrss" "$here/floor/maxrss.c"
# CGO_ENABLED=0: a static benchmark, whatever the VM's libraries.
(cd "$repo" && CGO_ENABLED=0 "${GO:-go}" build -o "$pl/bench" ./tests/bench)
"$here/../mkrootfs.sh" "$pl/rootfs" >/dev/null
cat >"$pl/run" <<RUN
#!/bin/bash
# written by tests/bench/sysvm.sh
set -e
cd /payload
./bench -vm -kan /payload/kan -runc "\$(command -v runc)" -crun "\$(command -v crun)" \\
	-maxrss /payload/maxrss -stopwatch /payload/stopwatch.sh -rootfs /payload/rootfs \\
	-n ${BENCH_VM_N:-30} -out /tmp/vm-report.md >/dev/null
echo '=== kan bench vm report ==='
cat /tmp/vm-report.md
echo '=== end ==='
RUN
chmod +x "$pl/run"
out=$("$here/../sysvm/run.sh" "$pl")
sed -n '/^=== kan bench vm report ===$/,/^=== end ===$/p' <<<"$out" | sed '1d;$d' | tr -d '\r'
