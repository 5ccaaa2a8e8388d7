#!/bin/bash
# make vmtest: run the Go tests of tests/vm (build tag vmtest) in a VM with
# a pure cgroup v2 hierarchy, and exit with their exit code:
#   tests/vm/run.sh KAN_BINARY [TEST_BINARY_FLAGS...]
# e.g. tests/vm/run.sh ./kan -test.run=TestPureV2
# Steps: the kernel (kernel.sh, cached), the static test binary, a busybox
# rootfs for bundles, the initramfs, then the boot (vmrun.sh).
# Env: KAN_VM_TIMEOUT (seconds for the VM, default 600), KAN_VM_ARGS (more
# vmrun.sh options, e.g. "-v" or "-a vm.debug=1"), KAN_VM_WORK (keep the
# built files there instead of a temporary directory), KAN_VM_RUNTIMES (other
# runtimes, e.g. "/usr/sbin/runc /usr/bin/crun", that TestValidationSuite
# also runs the suite's cgroup tests with, for comparison).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '2,13s/^# \{0,1\}//p' "$0" >&2; exit 2; }
kan=$(realpath "$1")
shift
tmo=${KAN_VM_TIMEOUT:-600}
[ -x "$kan" ] || { echo "vmtest: $kan is not an executable" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "vmtest: qemu-system-x86_64 missing (tests/deps.sh vm)" >&2; exit 2; }

if [ -n "${KAN_VM_WORK:-}" ]; then
	work=$KAN_VM_WORK
	mkdir -p "$work"
else
	work=$(mktemp -d /tmp/kan-vmtest.XXXXXX)
	trap 'rm -rf "$work"' EXIT
fi
step() { # label, command...: run it and say how long it took
	local t0=$EPOCHREALTIME label=$1
	shift
	"$@"
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$label" 'BEGIN { printf "vmtest: %s %.1fs\n", l, b-a }' >&2
}

kdir=""
# shellcheck disable=SC2317 # getkernel and testbin run through step
getkernel() { kdir=$("$here/kernel.sh"); }
step "kernel" getkernel

pl=$work/payload
rm -rf "$pl" && mkdir -p "$pl"
cp "$kan" "$pl/kan"
# CGO_ENABLED=0: a static binary, as the VM has no ELF interpreter.
# shellcheck disable=SC2317
testbin() { (cd "$here" && CGO_ENABLED=0 "${GO:-go}" test -c -tags vmtest -o "$pl/vm.test" .); }
step "test binary" testbin
step "rootfs" "$here/../mkrootfs.sh" "$pl/rootfs"
# The runtime-tools validation tests that need cgroup controllers, which
# only this VM has (TestValidationSuite runs them).
# shellcheck disable=SC2317
validation() {
	local all=$work/validation-all
	"$here/../validation/run.sh" -x "$all" >/dev/null
	mkdir -p "$pl/validation/bin"
	cp -r "$all/run" "$pl/validation/"
	# The suite unpacks its rootfs with `tar -xf`, which busybox tar does
	# only for an uncompressed archive: uncompress it, name kept.
	gunzip -c "$all/run/rootfs-amd64.tar.gz" >"$pl/validation/run/rootfs-amd64.tar.gz"
	cp "$all"/bin/linux_cgroups_* "$all/bin/delete_resources" "$pl/validation/bin/"
	cp "$here/../validation/expected-vm.txt" "$pl/validation/"
	rm -rf "$all"
	# Other runtimes to run the same tests with, for comparison only
	# (KAN_VM_RUNTIMES="/usr/sbin/runc /usr/bin/crun"): the binary and the
	# shared libraries it links, at their own paths under sysroot/, which
	# run copies to / in the VM (its root is a throwaway ramfs) so that the
	# ELF interpreter and the re-exec of /proc/self/exe work as on the host.
	local rt name rts=""
	for rt in ${KAN_VM_RUNTIMES:-}; do
		rt=$(command -v "$rt") || { echo "vmtest: runtime not found: $rt" >&2; return 1; }
		name=$(basename "$rt")
		mkdir -p "$pl/validation/rt"
		cp "$rt" "$pl/validation/rt/$name"
		ldd "$rt" | grep -o '/[^ ]*' | while read -r lib; do
			mkdir -p "$pl/sysroot$(dirname "$lib")"
			cp -L "$lib" "$pl/sysroot$lib"
		done
		if [ "$name" = crun ]; then
			# crun 1.8 rejects ociVersion 1.2.0 and later, the suite
			# writes 1.3.0: the same fix-up as ../validation/crun-runtime.sh,
			# in busybox sh.
			mv "$pl/validation/rt/crun" "$pl/validation/rt/crun.bin"
			cat >"$pl/validation/rt/crun" <<-'EOS'
				#!/bin/sh
				if [ "$1" = create ]; then
					b=.; prev=""
					for a in "$@"; do
						case $prev in --bundle | -b) b=$a ;; esac
						case $a in --bundle=*) b=${a#--bundle=} ;; esac
						prev=$a
					done
					[ -f "$b/config.json" ] && sed -i 's/"ociVersion": *"1\.[0-9]*\.[0-9]*[^"]*"/"ociVersion":"1.0.2"/' "$b/config.json"
				fi
				exec /payload/validation/rt/crun.bin "$@"
			EOS
			chmod +x "$pl/validation/rt/crun"
		fi
		rts="$rts $name=/payload/validation/rt/$name"
	done
	validation_runtimes=${rts# }
}
validation_runtimes=""
step "validation suite" validation
# The test binary's own timeout comes before the VM's, so that a hung test
# ends with Go's report of where it hung rather than a killed VM.
{
	echo "# written by tests/vm/run.sh"
	printf 'export KAN_BINARY=/payload/kan KAN_ROOTFS=/payload/rootfs KAN_VALIDATION=/payload/validation\n'
	if [ -n "$validation_runtimes" ]; then
		echo '[ -d sysroot ] && cp -a sysroot/. /'
		printf 'export KAN_VALIDATION_RUNTIMES=%q\n' "$validation_runtimes"
	fi
	printf 'exec ./vm.test -test.v -test.timeout=%ss' $((tmo > 120 ? tmo - 60 : tmo))
	for a in "$@"; do printf ' %q' "$a"; done
	echo
} >"$pl/run"
step "initramfs" "$here/mkinitramfs.sh" -o "$work/initramfs.cpio" -K "$kdir/modules" "$pl"

echo "vmtest: booting $(cat "$kdir/done") under QEMU (TCG), timeout ${tmo}s" >&2
rc=0
# shellcheck disable=SC2086 # KAN_VM_ARGS is a list of options
"$here/vmrun.sh" -k "$kdir/vmlinux" -t "$tmo" -l "$work/console.log" ${KAN_VM_ARGS:-} "$work/initramfs.cpio" || rc=$?
case $rc in
0) echo "vmtest: PASS" >&2 ;;
124 | 125)
	echo "vmtest: FAIL: the VM did not finish the tests (exit $rc); end of its console:" >&2
	tail -n 40 "$work/console.log" >&2 ;;
*) echo "vmtest: FAIL (exit $rc)" >&2 ;;
esac
exit "$rc"
