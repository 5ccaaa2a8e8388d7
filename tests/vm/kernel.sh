#!/bin/sh
# Fetch Debian's kernel for the test VM into a cache, once, and print the
# cache directory on stdout:
#   tests/vm/kernel.sh          -> /var/cache/kan-vm/6.1.0-56-amd64
# The directory holds `vmlinux` (uncompressed, PVH-bootable: QEMU boots it
# without the ~3 s xz decompression a bzImage costs under TCG) and
# `modules/` (that kernel's lib/modules/KVER tree).
#
# The package is downloaded and unpacked with dpkg-deb, not installed:
# installing linux-image-* would run initramfs and bootloader hooks on the
# host and put a kernel into its /boot. A cached kernel is reused as is;
# rm -rf the cache (KAN_VM_CACHE, default /var/cache/kan-vm) to refresh it.
set -eu
cache=${KAN_VM_CACHE:-/var/cache/kan-vm}

# Reuse the newest complete kernel in the cache (`done` is written last).
d=$(ls -1dv "$cache"/*/done 2>/dev/null | tail -n1)
if [ -n "$d" ]; then
	echo "${d%/done}"
	exit 0
fi

# linux-image-amd64 is a metapackage; its dependency is the versioned
# package that has the files (linux-image-6.1.0-NN-amd64 on Debian 12).
resolve() { apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'; }
pkg=$(resolve)
if [ -z "$pkg" ]; then
	apt-get update -qq
	pkg=$(resolve)
fi
[ -n "$pkg" ] || { echo "kernel.sh: cannot resolve linux-image-amd64 with apt-cache" >&2; exit 1; }

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "kernel.sh: fetching $pkg into $cache" >&2
# apt's download sandbox user cannot write into a root-only directory.
(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
kver=$(ls -1 "$tmp/x/lib/modules")
[ -n "$kver" ] && [ -f "$tmp/x/boot/vmlinuz-$kver" ] || { echo "kernel.sh: $pkg has no kernel image" >&2; exit 1; }

# The bzImage carries the kernel compressed behind a small decompressor:
# find the compressed stream by its magic and unpack it until an ELF appears.
img=$tmp/x/boot/vmlinuz-$kver
try() { # magic, decompressor
	for off in $(grep -abo "$1" "$img" 2>/dev/null | cut -d: -f1); do
		tail -c +$((off + 1)) "$img" | $2 >"$tmp/vmlinux" 2>/dev/null || true
		if head -c4 "$tmp/vmlinux" | grep -q ELF; then return 0; fi
	done
	return 1
}
try "$(printf '\3757zXZ\000')" "xz -dc" ||
	try "$(printf '\050\265\057\375')" "zstd -dc" ||
	try "$(printf '\037\213\010')" "gzip -dc" ||
	{ echo "kernel.sh: no known compressed kernel in $img" >&2; exit 1; }

dst=$cache/$kver
rm -rf "$dst"
mkdir -p "$dst"
mv "$tmp/vmlinux" "$dst/vmlinux"
mv "$tmp/x/lib/modules/$kver" "$dst/modules"
cp "$tmp/x/boot/config-$kver" "$dst/config"
echo "$pkg" >"$dst/done"
echo "$dst"
