#!/bin/bash
# make sysvm-integration: the whole integration suite (tests/integration)
# on the systemd test VM — another kind of host than this project's
# machines (Debian 12's kernel 6.1, systemd, pure cgroup v2 with every
# controller) — to check that each test holds there or skips with its
# reason. About 5 minutes of VM time here; not part of make test.
#   tests/sysvm/integration.sh KAN_BINARY [TEST_BINARY_FLAGS...]
# e.g. tests/sysvm/integration.sh ./kan -test.run=TestProcessFields
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '2,9s/^# \{0,1\}//p' "$0" >&2; exit 2; }
kan=$(realpath "$1")
shift
go=${GO:-go}
pl=$(mktemp -d /tmp/kan-sysvm-it.XXXXXX)
trap 'rm -rf "$pl"' EXIT
mkdir -p "$pl/integration"
cp "$kan" "$pl/kan"
cp "$here/../mkrootfs.sh" "$pl/"
cp -r "$here/../integration/testdata" "$pl/integration/"
# Static binaries, whatever the VM's libraries.
(cd "$here/../integration" && CGO_ENABLED=0 "$go" test -c -o "$pl/integration/integration.test" .)
(cd "$here/../.." && CGO_ENABLED=0 "$go" build -o "$pl/recvtty" ./tests/recvtty && CGO_ENABLED=0 "$go" build -o "$pl/seccompagent" ./tests/seccompagent)
{
	echo "# written by tests/sysvm/integration.sh"
	echo 'cd /payload/integration'
	echo 'export KAN_BINARY=/payload/kan RECVTTY_BINARY=/payload/recvtty SECCOMPAGENT_BINARY=/payload/seccompagent'
	printf 'exec ./integration.test -test.timeout=50m'
	for a in "$@"; do printf ' %q' "$a"; done
	echo
} >"$pl/run"
chmod +x "$pl/run"
KAN_VM_TIMEOUT=${KAN_VM_TIMEOUT:-3600} "$here/run.sh" "$pl"
