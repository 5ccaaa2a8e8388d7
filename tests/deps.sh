#!/bin/sh
# Install what kan's build and tests need on a Debian machine (idempotent):
#   tests/deps.sh        build, unit, integration and validation tests
#   tests/deps.sh vm     also the cgroup v2 test VM (make vmtest): QEMU and
#                        Debian's kernel, fetched into a cache, not installed
#                        (tests/vm/kernel.sh says why)
#   tests/deps.sh sysvm  also the systemd test VM (make sysvmtest): the above,
#                        debootstrap, mkfs.ext4 and qemu-img
set -eu
need=""
# The busybox found must be static (tests/mkrootfs.sh copies it into a rootfs
# without libc): Debian's busybox package is dynamic, busybox-static replaces
# it. ldd's verdict in English whatever the locale; a static-pie says
# "statically linked".
bb=$(command -v busybox 2>/dev/null || true)
case $([ -n "$bb" ] && LC_ALL=C ldd "$bb" 2>&1) in
*"not a dynamic"* | *"statically linked"*) ;;
*) need="$need busybox-static" ;;
esac
command -v gcc >/dev/null 2>&1 || need="$need gcc libc6-dev"
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need="$need libc6-dev"
command -v musl-gcc >/dev/null 2>&1 || need="$need musl-tools" # kan links against musl (Makefile)
command -v make >/dev/null 2>&1 || need="$need make"
command -v mkfifo >/dev/null 2>&1 || need="$need coreutils"
command -v patch >/dev/null 2>&1 || need="$need patch"        # validation suite patches
command -v unshare >/dev/null 2>&1 || need="$need util-linux" # tests join a mount namespace
command -v ps >/dev/null 2>&1 || need="$need procps"            # kan ps runs ps
command -v ip >/dev/null 2>&1 || need="$need iproute2"          # network namespace tests
command -v newuidmap >/dev/null 2>&1 || need="$need uidmap"     # rootless tests: subordinate id ranges
command -v useradd >/dev/null 2>&1 || need="$need passwd"       # rootless tests make an ordinary user
command -v runc >/dev/null 2>&1 || need="$need runc"            # rootless tests: runc spec --rootless to compare
if [ "${1:-}" = vm ] || [ "${1:-}" = sysvm ]; then
	command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
	command -v cpio >/dev/null 2>&1 || need="$need cpio" # the initramfs
	command -v xz >/dev/null 2>&1 || need="$need xz-utils" # Debian's kernel image is xz-compressed
fi
if [ "${1:-}" = sysvm ]; then
	command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
	command -v mkfs.ext4 >/dev/null 2>&1 || need="$need e2fsprogs"
	command -v qemu-img >/dev/null 2>&1 || need="$need qemu-utils"
fi
if [ -n "$need" ]; then
	echo "deps: installing$need"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if [ "${1:-}" = vm ] || [ "${1:-}" = sysvm ]; then
	"$(dirname "$0")/vm/kernel.sh" >/dev/null
fi
