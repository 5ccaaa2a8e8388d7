#!/bin/sh
# make demo: build a busybox bundle and run a container that describes itself.
set -eu
kan=$1
here=$(cd "$(dirname "$0")" && pwd)
bundle=${DEMO_BUNDLE:-/tmp/kan-demo}
mkdir -p "$bundle"
"$here/mkrootfs.sh" "$bundle/rootfs"
cat >"$bundle/rootfs/demo.sh" <<'S'
echo "hello from a kan container"
echo "hostname: $(hostname)   pid: $$   user: $(id)"
echo "processes:"; ps
echo "network interfaces:"; ip -o link | cut -d: -f2
echo "mounts:"; cat /proc/self/mounts
S
rm -f "$bundle/config.json"
"$kan" spec --bundle "$bundle"
# Not interactive: no terminal, and run the script instead of a shell.
sed -i -e 's/"terminal": true/"terminal": false/' -e 's|^\(\s*\)"sh"$|\1"sh", "/demo.sh"|' "$bundle/config.json"
exec "$kan" run --bundle "$bundle" "kan-demo-$$"
