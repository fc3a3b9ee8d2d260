#!/bin/sh
# run.sh BUILD_DIR - run every test: the unit binaries in BUILD_DIR/tests
# and the scripts in tests/sh.  Each runs under a timeout and exits 0
# (pass), 77 (skip: missing hardware only) or anything else (fail).  The
# last line is "N passed, N failed[, N skipped]".
B=${1:-build}
T=${TEST_TIMEOUT:-300}
ONLY=${TESTS:-}
SRC=$(cd "$(dirname "$0")/.." && pwd)
export B SRC
pass=0 fail=0 skip=0 failed=""
log=$(mktemp -d /tmp/vtier-tests.XXXXXX)

run_one() {	# name, command...
	name=$1; shift
	if [ -n "$ONLY" ] && ! echo "$name" | grep -qE "$ONLY"; then
		return
	fi
	start=$(date +%s%N)
	timeout -k 10 "$T" "$@" >"$log/$name.out" 2>&1
	rc=$?
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	secs=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))
	case $rc in
	0)  pass=$((pass + 1)); printf 'PASS %-32s %6ss\n' "$name" "$secs" ;;
	77) skip=$((skip + 1)); printf 'SKIP %-32s %s\n' "$name" \
		"$(grep -m1 -i skip "$log/$name.out" || true)" ;;
	*)  fail=$((fail + 1)); failed="$failed $name"
	    [ $rc = 124 ] && echo "(timed out after ${T}s)" >>"$log/$name.out"
	    printf 'FAIL %-32s (exit %d)\n' "$name" "$rc"
	    tail -n 40 "$log/$name.out" | sed 's/^/    | /' ;;
	esac
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in "$SRC"/tests/sh/*.sh; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t" .sh)" sh "$t"
done
rm -rf "$log"
[ -n "$failed" ] && echo "failed:$failed"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
