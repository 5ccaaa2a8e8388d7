#!/bin/sh
# Install what kan's build and tests need on a Debian machine (idempotent).
set -eu
need=""
command -v busybox >/dev/null 2>&1 || need="$need busybox-static"
command -v gcc >/dev/null 2>&1 || need="$need gcc libc6-dev"
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need="$need libc6-dev"
command -v make >/dev/null 2>&1 || need="$need make"
command -v mkfifo >/dev/null 2>&1 || need="$need coreutils"
command -v patch >/dev/null 2>&1 || need="$need patch"        # validation suite patches
command -v unshare >/dev/null 2>&1 || need="$need util-linux" # tests join a mount namespace
if [ -n "$need" ]; then
	echo "deps: installing$need"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
