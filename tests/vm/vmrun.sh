#!/bin/bash
# Boot an initramfs made by mkinitramfs.sh under QEMU with software
# emulation (TCG: no /dev/kvm needed), print the payload's output on stdout
# and exit with the payload's exit code:
#   tests/vm/vmrun.sh -k VMLINUX [-m MB] [-c CPUS] [-t SECS] [-a KARGS] [-d DISK]... [-l LOG] [-v] INITRAMFS
#   -k VMLINUX  the kernel (kernel.sh's vmlinux)
#   -m MB       guest memory (default 1024; the initramfs is unpacked into it)
#   -c CPUS     guest CPUs (default 2)
#   -t SECS     kill the VM after SECS (default 600)
#   -a KARGS    more kernel command line, e.g. vm.debug=1 (kernel log on
#               the console, dmesg after the payload) or hugepages=16
#   -d DISK     a virtio disk (raw, or qcow2 by its .qcow2 name); the first
#               is /dev/vda (tests/sysvm boots its root from it)
#   -l LOG      write the whole serial console to LOG
#   -v          copy boot messages (all but the payload's output) to stderr
# Env: ACCEL=kvm where /dev/kvm exists (default tcg; kvm is untested here).
# Exit: the payload's code; 124 on timeout; 125 if the payload never
# finished (e.g. a kernel panic).
set -uo pipefail

kernel="" mem=1024 cpus=2 tmo=600 kargs="" log=/dev/null verbose=0 disks=()
usage() { sed -n '2,19s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while getopts k:m:c:t:a:d:l:vh opt; do
	case $opt in
	k) kernel=$OPTARG ;; m) mem=$OPTARG ;; c) cpus=$OPTARG ;; t) tmo=$OPTARG ;;
	a) kargs=$OPTARG ;; l) log=$OPTARG ;; v) verbose=1 ;;
	d)
		fmt=raw
		[[ $OPTARG == *.qcow2 ]] && fmt=qcow2
		disks+=(-drive "file=$OPTARG,if=virtio,format=$fmt,cache=unsafe") ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] && [ -n "$kernel" ] || usage
initrd=$1

# panic=-1 with -no-reboot: a guest panic (oops=panic too) ends QEMU at once.
# cgroup_no_v1=all: every controller stays on the v2 hierarchy.
cmdline="console=ttyS0 quiet panic=-1 oops=panic mitigations=off cgroup_no_v1=all $kargs"

qrc=$(mktemp)
trap 'rm -f "$qrc"' EXIT
t0=$EPOCHREALTIME
state=boot rc=125 t_begin="" g_begin="" g_end=""
: >"$log"
# The serial console ends lines with \r\n; the payload's output is what
# lies between the markers /init prints.
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%$'\r'}
	printf '%s\n' "$line" >>"$log"
	case $state in
	boot)
		if [[ $line == *"@@VM-BEGIN@@ uptime="* ]]; then
			t_begin=$EPOCHREALTIME g_begin=${line##*uptime=} state=run
		elif [ $verbose = 1 ]; then
			printf '%s\n' "$line" >&2
		fi ;;
	run)
		if [[ $line == *"@@VM-END@@ rc="* ]]; then
			pre=${line%%@@VM-END@@*}
			[ -n "$pre" ] && printf '%s\n' "$pre"
			rest=${line##*rc=} rc=${rest%% *} g_end=${line##*uptime=}
			state=finished
		else
			printf '%s\n' "$line"
		fi ;;
	finished) [ $verbose = 1 ] && printf '%s\n' "$line" >&2 ;;
	esac
done < <(
	# stdin from /dev/null: with a terminal, -nographic would switch it
	# to raw mode and take Ctrl-A.
	timeout -k 5 "$tmo" qemu-system-x86_64 -accel "${ACCEL:-tcg}" -cpu max -smp "$cpus" -m "$mem" \
		-nographic -no-reboot -nodefaults -no-user-config -serial stdio \
		-kernel "$kernel" -initrd "$initrd" -append "$cmdline" "${disks[@]}" </dev/null 2>&1
	echo $? >"$qrc"
)
t1=$EPOCHREALTIME
q=$(cat "$qrc")
if [ "$state" != finished ]; then
	[ "$q" = 124 ] && rc=124
	if [ "$q" = 124 ]; then
		echo "vmrun: TIMEOUT: the VM ran longer than ${tmo}s and was killed (state: $state)" >&2
	else
		echo "vmrun: the payload did not finish (qemu exit $q, state: $state)" >&2
	fi
fi
if [ -n "$t_begin" ]; then
	awk -v t0="$t0" -v tb="$t_begin" -v t1="$t1" -v gb="$g_begin" -v ge="${g_end:-0}" -v rc="$rc" \
		'BEGIN { printf "vmrun: boot-to-payload %.1fs (guest uptime %.1fs), payload %.1fs, total %.1fs, rc=%s\n", tb-t0, gb, (ge>0 ? ge-gb : 0), t1-t0, rc }' >&2
fi
exit "$rc"
