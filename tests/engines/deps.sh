#!/bin/sh
# Install the container engines that tests/engines drives kan behind, from
# Debian (idempotent): Podman (with conmon), containerd with ctr, and
# docker.io (dockerd and the docker client). runc comes with them and is
# the reference the tests compare kan with. apt-get does not start any
# daemon here (the tests start containerd and dockerd themselves, with all
# their state under a temporary directory).
set -eu
need=""
add() { case " $need " in *" $1 "*) ;; *) need="$need $1" ;; esac; }
[ -x /usr/bin/podman ] || add podman
command -v conmon >/dev/null 2>&1 || add conmon
[ -x /usr/bin/containerd ] || add containerd
[ -x /usr/bin/ctr ] || add containerd
[ -x /usr/bin/containerd-shim-runc-v2 ] || add containerd
[ -x /usr/sbin/dockerd ] || add docker.io
[ -x /usr/bin/docker ] || add docker.io
[ -x /usr/sbin/runc ] || add runc
command -v tar >/dev/null 2>&1 || add tar
# No recommends: podman's network stack, buildah, fuse-overlayfs, slirp4netns
# and uidmap are not used (rootful, overlay, --network=none).
if [ -n "$need" ]; then
	echo "engines deps: installing$need"
	apt-get update -qq
	# Never start services from a package's postinst.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	# shellcheck disable=SC2086 # a list of package names
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
