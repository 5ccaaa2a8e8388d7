#!/bin/bash
# make sysvmtest: run the Go tests of tests/sysvm (build tag sysvm) in the
# systemd test VM, against KAN_BINARY, and exit with their exit code:
#   tests/sysvm/test.sh KAN_BINARY [TEST_BINARY_FLAGS...]
# e.g. tests/sysvm/test.sh ./kan -test.run=TestHost
# Env: as run.sh (KAN_VM_TIMEOUT, KAN_VM_ARGS, KAN_VM_WORK).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '2,7s/^# \{0,1\}//p' "$0" >&2; exit 2; }
kan=$(realpath "$1")
shift
pl=$(mktemp -d /tmp/kan-sysvm-payload.XXXXXX)
trap 'rm -rf "$pl"' EXIT
# Searchable by the ordinary users the rootless tests make: the payload
# disk's root keeps this mode.
chmod 755 "$pl"
cp "$kan" "$pl/kan"
# CGO_ENABLED=0: a static test binary, whatever the VM's libraries.
(cd "$here" && CGO_ENABLED=0 "${GO:-go}" test -c -tags sysvm -o "$pl/sysvm.test" .)
# The CRI client of the kubeadm scenario (its own module), static too.
(cd "$here/../engines/cri" && CGO_ENABLED=0 "${GO:-go}" build -o "$pl/cri" .)
"$here/../mkrootfs.sh" "$pl/rootfs"
tmo=${KAN_VM_TIMEOUT:-900}
{
	echo "# written by tests/sysvm/test.sh"
	echo 'export KAN_BINARY=/payload/kan KAN_ROOTFS=/payload/rootfs CRI_BINARY=/payload/cri'
	printf 'exec ./sysvm.test -test.v -test.timeout=%ss' $((tmo > 120 ? tmo - 60 : tmo))
	for a in "$@"; do printf ' %q' "$a"; done
	echo
} >"$pl/run"
chmod +x "$pl/run"
"$here/run.sh" "$pl"
