#!/bin/bash
# Build, once, the root filesystem of the systemd test VM and print the
# cache directory that holds it on stdout:
#   tests/sysvm/image.sh        -> /var/cache/kan-sysvm/<key>
# The directory holds root.ext4 (Debian 12 with systemd as PID 1, D-Bus,
# the engines, criu, uidmap and runc/crun for comparison), initrd.cpio (a
# busybox initramfs that mounts /dev/vda and hands over to systemd) and
# `kernel` (the directory tests/vm/kernel.sh gives: vmlinux and modules).
# The key is a hash of this script, the package list and the kernel
# version: change either and a new image is built. Everything comes from
# the Debian archive the host's apt uses. About 5 minutes here; rm -rf the
# cache (KAN_SYSVM_CACHE, default /var/cache/kan-sysvm) to rebuild.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${KAN_SYSVM_CACHE:-/var/cache/kan-sysvm}

# What the scenarios need: engines (podman, docker, containerd), criu,
# the rootless tools, runc and crun to compare with.
base=systemd,systemd-sysv,dbus,udev,kmod,busybox-static,ca-certificates
pkgs="apparmor podman docker.io containerd runc crun criu uidmap iproute2 iptables dbus-user-session systemd-container fuse-overlayfs slirp4netns procps"

kdir=$("$here/../vm/kernel.sh")
kver=$(basename "$kdir")
key=$(cat "$0" "$here/init" | sha256sum | cut -c1-12)-$kver
dst=$cache/$key
if [ -f "$dst/done" ]; then
	echo "$dst"
	exit 0
fi
for tool in debootstrap mkfs.ext4 cpio; do
	command -v $tool >/dev/null || { echo "image.sh: $tool missing (tests/deps.sh sysvm)" >&2; exit 1; }
done

# The archive the host's apt uses (deb822 or one-line sources).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "image.sh: no Debian archive in the host's apt sources" >&2; exit 1; }

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.build.XXXXXX")
root=$tmp/root
cleanup() {
	for m in proc sys dev/pts dev; do umount "$root/$m" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
step() {
	local t0=$EPOCHREALTIME label=$1
	shift
	"$@"
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$label" 'BEGIN { printf "image.sh: %s %.0fs\n", l, b-a }' >&2
}

bootstrap() { debootstrap --variant=minbase --include="$base" bookworm "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1; }
step debootstrap bootstrap ||
	{ tail -n 20 "$tmp/debootstrap.log" >&2; exit 1; }

inchroot() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
packages() {
	mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	# No service starts in the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod +x "$root/usr/sbin/policy-rc.d"
	inchroot apt-get install -y -qq --no-install-recommends $pkgs >"$tmp/apt.log" 2>&1 ||
		{ tail -n 20 "$tmp/apt.log" >&2; return 1; }
	rm -f "$root/usr/sbin/policy-rc.d"
	inchroot apt-get clean
	umount "$root/dev" "$root/proc"
}
step packages packages

configure() {
	# The kernel's modules, for what the tests load (overlay, nf_tables,
	# tun, veth, ...).
	mkdir -p "$root/lib/modules"
	cp -a "$kdir/modules" "$root/lib/modules/$kver"
	inchroot depmod "$kver"
	echo kan-sysvm >"$root/etc/hostname"
	printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$root/etc/fstab"
	# root logs in without a password on the console, for debugging.
	inchroot passwd -d root >/dev/null
	# Slow or useless under TCG, or in the way of the payload.
	inchroot systemctl mask -q systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
		e2scrub_all.timer fstrim.timer man-db.timer systemd-networkd-wait-online.service \
		docker.service docker.socket containerd.service serial-getty@ttyS0.service getty@tty1.service 2>/dev/null || true
	# The payload: /dev/vdb (an ext4 the host makes per run) mounted on
	# /payload, its `run` executed, its output and exit code on the
	# serial console between the markers tests/vm/vmrun.sh reads.
	install -m 0755 "$here/init" "$root/usr/local/sbin/kan-payload"
	cat >"$root/etc/systemd/system/kan-payload.service" <<-'UNIT'
		[Unit]
		Description=kan test payload
		After=multi-user.target dbus.service systemd-logind.service
		Wants=dbus.service systemd-logind.service

		[Service]
		Type=oneshot
		ExecStart=/usr/local/sbin/kan-payload
		StandardOutput=tty
		StandardError=tty
		TTYPath=/dev/ttyS0
		TimeoutStartSec=infinity

		[Install]
		WantedBy=multi-user.target
	UNIT
	inchroot systemctl enable -q kan-payload.service
}
step configure configure

step "root.ext4" mkfs.ext4 -q -L kan-sysvm -d "$root" "$tmp/root.ext4" 3G >&2

# The initramfs: busybox, the modules to reach an ext4 on virtio-blk, and
# an init that mounts it and hands over to systemd.
initrd() {
	local st=$tmp/initrd
	mkdir -p "$st/payload"
	cat >"$st/payload/run" <<-'RUN'
		#!/bin/sh
		# not used: the initramfs only switches to the real root
	RUN
	"$here/../vm/mkinitramfs.sh" -o "$tmp/initrd.cpio" -K "$kdir/modules" -M "virtio_pci virtio_blk crc32c_generic ext4" "$st/payload" 2>/dev/null
	# mkinitramfs.sh's /init runs a payload; this one switches root.
	mkdir -p "$tmp/ov"
	cat >"$tmp/ov/init" <<-'INIT'
		#!/bin/sh
		export PATH=/bin:/sbin:/usr/bin:/usr/sbin
		mount -t proc proc /proc
		mount -t sysfs sysfs /sys
		mount -t devtmpfs devtmpfs /dev
		while read -r ko; do insmod "$ko"; done </etc/vm/modules
		mkdir -p /newroot
		i=0
		until mount -t ext4 /dev/vda /newroot 2>/dev/null; do
			i=$((i + 1)); [ $i -gt 50 ] && { echo "initrd: cannot mount /dev/vda"; poweroff -f; }
			sleep 0.1
		done
		umount /proc /sys
		mount --move /dev /newroot/dev
		exec switch_root /newroot /sbin/init
	INIT
	chmod 0755 "$tmp/ov/init"
	(cd "$tmp/ov" && echo init | cpio --quiet -o -H newc -R 0:0) >>"$tmp/initrd.cpio"
}
step initrd initrd

mkdir -p "$dst"
mv "$tmp/root.ext4" "$tmp/initrd.cpio" "$dst/"
ln -sfn "$kdir" "$dst/kernel"
echo "$key" >"$dst/done"
echo "$dst"
