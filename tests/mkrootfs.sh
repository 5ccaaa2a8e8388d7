#!/bin/sh
# Build a busybox root filesystem for test and demo containers:
#   tests/mkrootfs.sh DIR
# Needs Debian's busybox-static (a static busybox runs in any rootfs).
set -eu
# Modes as written below whatever the caller's umask (a 077 umask would make
# the rootfs unreadable to a container's non-root user).
umask 022
dir=$1
bb=$(command -v busybox || true)
[ -n "$bb" ] || { echo "mkrootfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
case $(LC_ALL=C ldd "$bb" 2>&1) in *"not a dynamic"* | *"statically linked"*) ;; *) echo "mkrootfs: $bb is not static (install busybox-static)" >&2; exit 1 ;; esac
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root" "$dir/home/user"
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
cat >"$dir/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$dir/etc/group" <<'G'
root:x:0:
user:x:1000:
extra:x:2000:user
nogroup:x:65534:
G
echo kan-test >"$dir/etc/hostname"
