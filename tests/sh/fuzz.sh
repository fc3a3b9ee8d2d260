# fuzz.sh - build every libFuzzer target (tests/fuzz/fuzz_*.c) into
# B/fuzz and run each for FUZZ_SECONDS (default 20) from its seed corpus
# (tests/fuzz/corpus/X for fuzz_X, copied so the tree is never written).
# Any crash fails.  The targets are always built with ASan and UBSan;
# B is the build dir given (tests/buildvars.sh), so a sanitized check
# builds them in its own tree.  fuzz_shim_virt_xml only where the shim is
# built with libvirt (VIRT=1, the Makefile's default when libvirt is
# installed).
set -eu
. "${SRC:-.}/tests/buildvars.sh"
S=${FUZZ_SECONDS:-20}
T=$(mktemp -d /tmp/vtier-fuzz.XXXXXX)
trap 'rm -rf "$T"' EXIT
bmake fuzzers
for src in "$SRC"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c); what=${name#fuzz_}; f=$B/fuzz/$name
	[ -x "$f" ] || continue	# not built here (fuzz_shim_virt_xml, VIRT=0)
	mkdir -p "$T/$what"
	seeds="$SRC/tests/fuzz/corpus/$what"
	dict=""
	[ -f "$SRC/tests/fuzz/$what.dict" ] && dict="-dict=$SRC/tests/fuzz/$what.dict"
	(cd "$T" && "$f" -max_total_time="$S" -max_len=8192 -print_final_stats=1 \
		$dict "$T/$what" $( [ -d "$seeds" ] && echo "$seeds") >"$T/$name.log" 2>&1) || {
		tail -50 "$T/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
	echo "fuzz: $name $(grep -m1 'stat::number_of_executed_units' "$T/$name.log" | awk '{print $2}') executions in ${S}s, no crash"
done
