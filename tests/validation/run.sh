#!/bin/bash
# Run the OCI runtime-tools validation suite against a runtime.
#
# usage: tests/validation/run.sh [-r RUNTIME] [-o RESULTS_FILE] [-e EXPECTED_FILE] [TEST...]
#
#   -r RUNTIME   runtime binary (default: $RUNTIME, else ./kan at the repo root)
#   -o FILE      per-test results, "name PASS|FAIL" sorted (default: $work/results.txt)
#   -e FILE      expected results; exit 1 only when a test expected to PASS fails
#   -x DIR       only build, and copy the tests (bin/) and what they need
#                (run/) into DIR: the cgroup v2 VM runs them (tests/vm)
#   TEST...      test names (directories under validation/ of runtime-tools);
#                default: all of them
#
# Environment:
#   VALIDATION_WORK     work dir (default /tmp/kan-validation): source, binaries, logs
#   VALIDATION_TIMEOUT  seconds per test (default 120)
#   RUNTIME_TOOLS_VERSION  module version to test with (default pinned below)
#   VALIDATION_PATCHES  directory of *.patch applied to the suite
#                       (default: patches/ beside this script)
#
# Exit status: 0 run done (and no regression with -e), 1 regression(s),
# 2 usage error or the suite could not be fetched/patched/built.
set -euo pipefail

MODULE=github.com/opencontainers/runtime-tools
VERSION=${RUNTIME_TOOLS_VERSION:-v0.9.1-0.20251205004911-5e639034dcdc}
# Bump when the way the suite is built changes, to invalidate cached builds.
RECIPE=2

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${VALIDATION_WORK:-/tmp/kan-validation}
per_test_timeout=${VALIDATION_TIMEOUT:-120}

runtime=${RUNTIME:-$repo/kan}
results=""
expected=""
export_dir=""

usage() {
	sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while getopts "r:o:e:x:h" opt; do
	case $opt in
	x) export_dir=$OPTARG ;;
	r) runtime=$OPTARG ;;
	o) results=$OPTARG ;;
	e) expected=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))

die() {
	echo "validation: $*" >&2
	exit 2
}

# Absolute path of the runtime, as the tests exec it from another directory.
if [[ -n $export_dir ]]; then
	runtime=/bin/true # not run: only the build is wanted
elif [[ $runtime != */* ]]; then
	runtime=$(command -v "$runtime") || die "runtime not found in PATH: $runtime"
fi
[[ -x $runtime ]] || die "runtime not executable: $runtime"
runtime=$(cd "$(dirname "$runtime")" && pwd)/$(basename "$runtime")
[[ -z $expected || -r $expected ]] || die "cannot read expected file: $expected"
# Resolve paths given relative to the caller's directory before any cd.
[[ -z $expected || $expected == /* ]] || expected=$PWD/$expected
[[ -z $results || $results == /* ]] || results=$PWD/$results

mkdir -p "$work"
work=$(cd "$work" && pwd)
results=${results:-$work/results.txt}
# One run at a time per work dir: runs share the build, the logs and /tmp.
exec 9>"$work/.lock"
flock 9

# --- fetch ---------------------------------------------------------------
# A scratch module keeps kan's go.mod out of it; GOFLAGS from the caller
# (e.g. -buildvcs=false) are kept, -mod=mod added since the suite's
# vendor/ holds only modules.txt.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
mkdir -p "$work/dl"
[[ -f $work/dl/go.mod ]] || printf 'module kanvalidationscratch\n\ngo 1.21\n' >"$work/dl/go.mod"
dljson=$(cd "$work/dl" && go mod download -json "$MODULE@$VERSION") ||
	die "cannot download $MODULE@$VERSION"
json_field() { sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\{0,1\}\$/\\1/p" <<<"$dljson" | head -n1; }
moddir=$(json_field Dir)
modsum=$(json_field Sum)
[[ -n $moddir && -d $moddir ]] || die "no module dir in: $dljson"

# --- patch + build (cached by a hash of everything that goes in) ----------
patchdir=${VALIDATION_PATCHES:-$here/patches}
patches=()
if [[ -d $patchdir ]]; then
	while IFS= read -r p; do patches+=("$p"); done < <(find "$patchdir" -maxdepth 1 -name '*.patch' -type f | LC_ALL=C sort)
fi
key=$(
	{
		echo "recipe $RECIPE $MODULE@$VERSION $modsum"
		go version
		go env GOOS GOARCH
		for p in ${patches[@]+"${patches[@]}"}; do
			echo "patch $(basename "$p")"
			cat "$p"
		done
	} | sha256sum | cut -c1-16
)
build=$work/build/$key

if [[ -f $build/.done ]]; then
	echo "validation: using cached build $build"
else
	echo "validation: building $MODULE@$VERSION (${#patches[@]} patches) in $build"
	t0=$SECONDS
	rm -rf "$build" "$build.tmp"
	mkdir -p "$build.tmp/bin" "$build.tmp/run"
	cp -r "$moddir" "$build.tmp/src"
	chmod -R u+w "$build.tmp/src"
	for p in ${patches[@]+"${patches[@]}"}; do
		echo "validation: applying $(basename "$p")"
		patch -d "$build.tmp/src" -p1 -s --batch --forward --no-backup-if-mismatch <"$p" ||
			die "patch failed: $p"
	done
	(
		cd "$build.tmp/src"
		# The in-container checker runs in a busybox rootfs: static, no libc.
		CGO_ENABLED=0 go build -trimpath -tags "netgo osusergo" -o "$build.tmp/run/runtimetest" ./cmd/runtimetest
		# All test mains at once; each lands as bin/<dir name>.
		# Static too: the cgroup tests also run in the test VM (tests/vm),
		# which has no libc.
		CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$build.tmp/bin/" ./validation/...
	) || die "build failed"
	cp "$build.tmp/src/rootfs-$(go env GOARCH).tar.gz" "$build.tmp/run/"
	touch "$build.tmp/.done"
	mv "$build.tmp" "$build"
	# Drop older builds.
	for old in "$work"/build/*; do
		[[ $old == "$build" ]] || rm -rf "$old"
	done
	echo "validation: built in $((SECONDS - t0))s"
fi

if [[ -n $export_dir ]]; then
	mkdir -p "$export_dir"
	cp -r "$build/bin" "$build/run" "$export_dir/"
	echo "validation: tests copied to $export_dir"
	exit 0
fi

# --- choose tests --------------------------------------------------------
all_tests=()
while IFS= read -r t; do all_tests+=("$t"); done < <(find "$build/bin" -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort)
if (($# > 0)); then
	tests=("$@")
	for t in "${tests[@]}"; do
		[[ -x $build/bin/$t ]] || die "no such test: $t (see $build/bin)"
	done
else
	tests=("${all_tests[@]}")
fi

# --- run -----------------------------------------------------------------
logs=$work/logs
mkdir -p "$logs"
# The tests unpack bundles under $TMPDIR and leave them when they fail hard;
# keep them in one place, emptied at the start of each run.
tmp=$work/tmp
mounts_under() { awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | LC_ALL=C sort -r; }
# A test that runs its container in this mount namespace (linux_ns_itype)
# can leave the bundle's mounts here: undo those of the previous run first.
for m in $(mounts_under "$tmp"); do umount -l "$m" 2>/dev/null || true; done
rm -rf --one-file-system "$tmp"
mkdir -p "$tmp"

list_containers() {
	timeout 20 "$runtime" list -q 2>/dev/null </dev/null | LC_ALL=C sort || true
}
before=$(list_containers)

# Parse a test's TAP output. Only top-level lines count: indented lines are
# YAML diagnostics or a nested stream. Some tests print several TAP documents
# one after the other (each opened by "TAP version"); each must satisfy its
# own plan. Prints "<ok> <total> <verdict> <reason>".
parse_tap() {
	awk '
	function directive_ok(line) { return line ~ /#[ \t]*([Tt][Oo][Dd][Oo]|[Ss][Kk][Ii][Pp])/ }
	function end_doc() {
		if (!started) return
		if (!planned) { if (problem == "") problem = "no TAP plan" ; total += n }
		else {
			total += plan
			if (n != plan && problem == "") problem = "planned " plan " tests, ran " n
		}
		docs++; started = 0; planned = 0; plan = 0; n = 0
	}
	/^TAP version/ { end_doc(); started = 1; next }
	/^1\.\.[0-9]+/ { started = 1; plan = substr($0, 4) + 0; planned = 1; next }
	/^Bail out!/ { started = 1; if (bail == "") bail = $0; next }
	/^not ok/ {
		started = 1; n++
		if (directive_ok($0)) { ok++ } else if (first == "") { first = $0 }
		next
	}
	/^ok/ { started = 1; n++; ok++; next }
	END {
		end_doc()
		if (bail != "") { verdict = "FAIL"; reason = bail }
		else if (first != "") { verdict = "FAIL"; reason = first }
		else if (docs == 0) { verdict = "FAIL"; reason = "no TAP plan" }
		else if (problem != "") { verdict = "FAIL"; reason = problem }
		else { verdict = "PASS"; reason = "" }
		printf "%d %d %s %s\n", ok, total, verdict, reason
	}'
}

declare -A verdicts=()
npass=0
nfail=0
nmounts=0
t_run=$SECONDS
for t in "${tests[@]}"; do
	tap=$logs/$t.tap
	err=$logs/$t.stderr
	rc=0
	(cd "$build/run" && RUNTIME=$runtime TMPDIR=$tmp timeout -k 10 "$per_test_timeout" "$build/bin/$t" </dev/null >"$tap" 2>"$err") || rc=$?
	read -r ok total verdict reason < <(parse_tap <"$tap")
	if ((rc == 124 || rc == 137)); then
		verdict=FAIL
		reason="timed out after ${per_test_timeout}s${reason:+; $reason}"
	elif ((rc != 0)) && [[ $verdict == PASS ]]; then
		verdict=FAIL
		reason="exit status $rc"
	elif ((rc != 0)) && [[ $reason == "no TAP plan" ]]; then
		last=$(grep -v '^[[:space:]]*$' "$err" | tail -n1 || true)
		reason="exit status $rc, no TAP plan${last:+: $last}"
	fi
	verdicts[$t]=$verdict
	now_mounts=$(mounts_under "$tmp" | wc -l)
	note=""
	if ((now_mounts > nmounts)); then
		note=" [left $((now_mounts - nmounts)) mounts in this mount namespace]"
	fi
	nmounts=$now_mounts
	if [[ $verdict == PASS ]]; then
		npass=$((npass + 1))
		echo "PASS $t ($ok/$total)$note"
	else
		nfail=$((nfail + 1))
		echo "FAIL $t ($ok/$total): $reason$note"
	fi
done

for t in "${tests[@]}"; do echo "$t ${verdicts[$t]}"; done | LC_ALL=C sort >"$results"

echo "validation: $npass passed, $nfail failed"
echo "runtime: $runtime"
echo "took $((SECONDS - t_run))s; logs: $logs/<test>.tap (and .stderr); results: $results"

leaked=$(mounts_under "$tmp" | wc -l)
if ((leaked > 0)); then
	echo "note: the tests left $leaked mounts under $tmp in this mount namespace (unmounted at the next run)"
fi
after=$(list_containers)
left=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)
if [[ -n $left ]]; then
	echo "note: containers left in the runtime's state by the tests: $(echo "$left" | tr '\n' ' ')"
fi

# --- compare with the expected file --------------------------------------
[[ -n $expected ]] || exit 0
declare -A want=()
while read -r name v _; do
	[[ -z $name || $name == \#* ]] && continue
	want[$name]=$v
done <"$expected"
regressions=()
newly=()
for t in "${tests[@]}"; do
	w=${want[$t]:-}
	if [[ $w == PASS && ${verdicts[$t]} != PASS ]]; then
		regressions+=("$t")
	elif [[ $w != PASS && ${verdicts[$t]} == PASS ]]; then
		newly+=("$t")
	fi
done
if ((${#newly[@]} > 0)); then
	echo "newly passing (update the expected file $expected): ${newly[*]}"
fi
if ((${#regressions[@]} > 0)); then
	echo "REGRESSIONS (expected PASS, now FAIL): ${regressions[*]}"
	exit 1
fi
echo "no regressions against $expected"
