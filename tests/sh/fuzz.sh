# fuzz.sh - build every libFuzzer target (tests/fuzz/fuzz_*.c) and run each
# for FUZZ_SECONDS (default 20) from its seed corpus (tests/fuzz/corpus/X
# for fuzz_X, copied so the tree is never written).  Any crash fails.
set -eu
: "${SRC:=.}"
SRC=$(cd "$SRC" && pwd)
S=${FUZZ_SECONDS:-20}
T=$(mktemp -d /tmp/vtier-fuzz.XXXXXX)
trap 'rm -rf "$T"' EXIT
make -s -C "$SRC" fuzzers
for f in "$SRC"/build/fuzz/fuzz_*; do
	name=$(basename "$f"); what=${name#fuzz_}
	mkdir -p "$T/$what"
	seeds="$SRC/tests/fuzz/corpus/$what"
	dict=""
	[ -f "$SRC/tests/fuzz/$what.dict" ] && dict="-dict=$SRC/tests/fuzz/$what.dict"
	(cd "$T" && "$f" -max_total_time="$S" -max_len=8192 -print_final_stats=1 \
		$dict "$T/$what" $( [ -d "$seeds" ] && echo "$seeds") >"$T/$name.log" 2>&1) || {
		tail -50 "$T/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
	echo "fuzz: $name $(grep -m1 'stat::number_of_executed_units' "$T/$name.log" | awk '{print $2}') executions in ${S}s, no crash"
done
