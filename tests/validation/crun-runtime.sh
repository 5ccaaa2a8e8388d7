#!/bin/bash
# RUNTIME wrapper for crun 1.8.x, for run.sh -r. crun 1.8 refuses any
# config whose ociVersion is not 1.0.x or 1.1.x ("unknown version
# specified"), and the suite writes the runtime-spec version it was built
# with (1.3.0). On `create`, rewrite a well-formed 1.x ociVersion in the
# bundle's config.json to 1.0.2, then exec crun. Malformed versions (the
# misc_props test writes "invalid") are left alone so crun still rejects them.
# CRUN overrides the crun binary.
set -euo pipefail
crun=${CRUN:-crun}
if [[ ${1:-} == create ]]; then
	bundle=.
	args=("$@")
	for ((i = 1; i < ${#args[@]}; i++)); do
		case ${args[i]} in
		--bundle | -b) bundle=${args[i + 1]:-.} ;;
		--bundle=*) bundle=${args[i]#--bundle=} ;;
		esac
	done
	cfg=$bundle/config.json
	if [[ -f $cfg ]]; then
		sed -i -E '0,/"ociVersion"/s/"ociVersion"([[:space:]]*):([[:space:]]*)"1\.[0-9]+\.[0-9]+[^"]*"/"ociVersion"\1:\2"1.0.2"/' "$cfg"
	fi
fi
exec "$crun" "$@"
