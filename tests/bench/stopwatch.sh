#!/bin/bash
# The benchmark's cross-check: a plain shell loop with a stopwatch around
# each command, runtimes alternating (A B C, B C A, …), as anyone would
# time them by hand. Prints one line per command: the runtime's name and
# the time in microseconds. Rounds FIRST to FIRST+COUNT-1 (the round
# decides who goes first), so that the bench can interleave its own.
#   stopwatch.sh FIRST COUNT 'ARGS, {} for a fresh container id' NAME 'COMMAND' [NAME 'COMMAND']...
# e.g. stopwatch.sh 0 30 'run --bundle /b {}' kan '/usr/bin/kan --root /r' runc '/usr/sbin/runc --root /r2'
# The commands get stdin, stdout and stderr /dev/null.
set -euo pipefail
first=$1 n=$2 template=$3
shift 3
names=() cmds=()
while [ $# -ge 2 ]; do
	names+=("$1") cmds+=("$2")
	shift 2
done
k=${#names[@]}
for ((i = first; i < first + n; i++)); do
	for ((j = 0; j < k; j++)); do
		r=$(((i + j) % k))
		args=${template//\{\}/sw-${names[r]}-$i-$$}
		t0=$EPOCHREALTIME
		# Word splitting of the command and its arguments is meant: the
		# bench's paths have no blanks.
		# shellcheck disable=SC2086
		${cmds[r]} $args </dev/null >/dev/null 2>&1 || {
			echo "stopwatch: ${names[r]} $args failed" >&2
			exit 1
		}
		t1=$EPOCHREALTIME
		echo "${names[r]} $((${t1/./} - ${t0/./}))"
	done
done
