#!/bin/bash
# Boot the systemd test VM (image.sh) with a payload directory and exit
# with the exit code of its `run` script, whose output is printed:
#   tests/sysvm/run.sh PAYLOAD_DIR
# The VM: Debian 12 with systemd as PID 1 on a real ext4 root (pivot_root
# works), pure cgroup v2, D-Bus, the engines, criu. Each run boots a
# copy-on-write overlay of the cached image, so runs never change it; the
# payload comes on a second disk, mounted at /payload.
# Env: KAN_VM_TIMEOUT (seconds, default 900), KAN_VM_ARGS (more vmrun.sh
# options, e.g. -v for the boot messages), KAN_VM_WORK (keep the overlay,
# payload disk and console.log there).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] && [ -f "$1/run" ] || { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
payload=$1
tmo=${KAN_VM_TIMEOUT:-900}
command -v qemu-img >/dev/null || { echo "sysvm: qemu-img missing (tests/deps.sh sysvm)" >&2; exit 2; }

img=$("$here/image.sh")
if [ -n "${KAN_VM_WORK:-}" ]; then
	work=$KAN_VM_WORK
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/kan-sysvm.XXXXXX)
	trap 'rm -rf "$work"' EXIT
fi
rm -f "$work/root.qcow2" "$work/payload.ext4"
qemu-img create -q -f qcow2 -b "$img/root.ext4" -F raw "$work/root.qcow2"
size=$(( $(du -sm "$payload" | cut -f1) * 2 + 256 ))
mkfs.ext4 -q -L payload -d "$payload" "$work/payload.ext4" "${size}M" >&2

echo "sysvm: booting $(cat "$img/done") under QEMU (TCG), timeout ${tmo}s" >&2
# shellcheck disable=SC2086 # KAN_VM_ARGS is a list of options
rc=0
"$here/../vm/vmrun.sh" -k "$img/kernel/vmlinux" -m 2048 -t "$tmo" -a "root=/dev/vda" \
	-d "$work/root.qcow2" -d "$work/payload.ext4" -l "$work/console.log" ${KAN_VM_ARGS:-} "$img/initrd.cpio" || rc=$?
[ $rc = 0 ] || { echo "sysvm: exit $rc; end of the console:" >&2; tail -n 30 "$work/console.log" >&2; }
exit $rc
