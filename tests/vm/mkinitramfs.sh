#!/bin/bash
# Build the test VM's initramfs (a cpio archive):
#   tests/vm/mkinitramfs.sh -o OUT -K MODDIR [-M "MOD ..."] PAYLOAD_DIR
# It holds static busybox with its applet links, /init, the modules MODDIR
# (a lib/modules/KVER tree, see kernel.sh) has for MOD... plus their
# dependencies, and PAYLOAD_DIR copied to /payload, whose `run` script /init
# executes. Default modules: overlay (kan's exeseal mounts an overlayfs)
# and loop (block devices for device and io tests).
# Needs no root: the archive holds no device nodes and all files are 0:0.
set -euo pipefail

out="" moddir="" mods="overlay loop"
here=$(cd "$(dirname "$0")" && pwd)
usage() { sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while getopts o:K:M:h opt; do
	case $opt in
	o) out=$OPTARG ;; K) moddir=$OPTARG ;; M) mods=$OPTARG ;; *) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] && [ -n "$out" ] && [ -n "$moddir" ] || usage
payload=$1
[ -f "$payload/run" ] || { echo "mkinitramfs: $payload/run is missing" >&2; exit 2; }
[ -f "$moddir/modules.order" ] || { echo "mkinitramfs: no $moddir/modules.order" >&2; exit 1; }

bb=$(command -v busybox || true)
case $(LC_ALL=C ldd "$bb" 2>&1) in *"not a dynamic"* | *"statically linked"*) ;;
*) echo "mkinitramfs: busybox '$bb' is missing or not static (install busybox-static)" >&2; exit 1 ;; esac

st=$(mktemp -d)
trap 'rm -rf "$st"' EXIT
mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc/vm,lib/modules,payload}
chmod 1777 "$st/tmp"
cp "$bb" "$st/bin/busybox"
# One perl process for ~400 links (perl-base is Essential in Debian).
"$bb" --list-full | grep -vxE 'bin/busybox|linuxrc' |
	ST=$st perl -nle 'symlink("/bin/busybox", "$ENV{ST}/$_") or die "$_: $!"'
install -m 0755 "$here/init" "$st/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$st/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$st/etc/group"

# Modules with their dependencies, in load order. The kernel package ships
# no modules.dep (depmod runs when it is installed, and we do not install
# it), so the dependencies come from each module's own .modinfo section
# ("depends=a,b"), and names from modules.order. busybox insmod needs plain
# .ko files: compressed modules (newer Debian) are unpacked here.
declare -A seen=()
modlist=()
add_mod() { # $1 = module name
	local name=${1//-/_} rel ko deps d
	[ -n "${seen[$name]:-}" ] && return
	seen[$name]=1
	rel=$(sed 's/-/_/g' "$moddir/modules.order" | grep -n "/$name\.ko\(\.[a-z]*\)\?$" | head -n1 | cut -d: -f1 || true)
	if [ -z "$rel" ]; then
		grep -q "/${name//_/[-_]}\.ko" "$moddir/modules.builtin" && return # built in
		echo "mkinitramfs: module $1 not found in $moddir" >&2; exit 1
	fi
	rel=$(sed -n "${rel}p" "$moddir/modules.order")
	ko=/lib/modules/${rel%.ko*}.ko
	mkdir -p "$(dirname "$st$ko")"
	case $rel in
	*.ko) cp "$moddir/$rel" "$st$ko" ;;
	*.ko.xz) xz -dc "$moddir/$rel" >"$st$ko" ;;
	*.ko.zst) zstd -qdc "$moddir/$rel" >"$st$ko" ;;
	*.ko.gz) gzip -dc "$moddir/$rel" >"$st$ko" ;;
	*) echo "mkinitramfs: unknown module format: $rel" >&2; exit 1 ;;
	esac
	deps=$(tr '\0' '\n' <"$st$ko" | sed -n 's/^depends=//p' | head -n1)
	for d in ${deps//,/ }; do add_mod "$d"; done
	modlist+=("$ko")
	echo "$ko" >>"$st/etc/vm/modules"
}
for m in $mods; do add_mod "$m"; done

cp -a "$payload/." "$st/payload/"

(cd "$st" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitramfs: $out: $(du -h "$out" | cut -f1), modules: ${modlist[*]##*/}" >&2
