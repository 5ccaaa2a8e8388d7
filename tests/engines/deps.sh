#!/bin/sh
# Install the container engines that tests/engines drives kan behind, from
# Debian (idempotent): Podman (with conmon), containerd with ctr, and
# docker.io (dockerd and the docker client). runc comes with them and is
# the reference the tests compare kan with. apt-get does not start any
# daemon here (the tests start containerd and dockerd themselves, with all
# their state under a temporary directory).
set -eu
need=""
[ -x /usr/bin/podman ] || need="$need podman"
command -v conmon >/dev/null 2>&1 || need="$need conmon"
[ -x /usr/bin/containerd ] || need="$need containerd"
[ -x /usr/bin/ctr ] || need="$need containerd"
[ -x /usr/sbin/dockerd ] || need="$need docker.io"
[ -x /usr/bin/docker ] || need="$need docker.io"
[ -x /usr/sbin/runc ] || need="$need runc"
command -v script >/dev/null 2>&1 || need="$need bsdutils"
# podman's overlay storage on kernels without native overlay for rootful
# use needs nothing more; its default network stack is not used (--network=none).
if [ -n "$need" ]; then
	echo "engines deps: installing$need"
	apt-get update -qq
	# Never start services from a package's postinst.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
