# sim_cli.sh - vtier-sim's command line: one summary line per policy in
# the documented format, the CSV, budgets as sizes and percentages, the
# oracle on a hand-made trace with a known answer, text <-> binary
# conversion through the CLI, reproducible generators, the shipped
# traces, and exit codes with file:line messages for bad input.
set -eu
: "${B:=build}" "${SRC:=.}"
S="$B/vtier-sim"
F="$SRC/tests/fixtures/traces"
T=$(mktemp -d /tmp/vtier-simcli.XXXXXX)
trap 'rm -rf "$T"' EXIT

expect_rc() {	# rc, command... (stderr to $T/err)
	want=$1; shift
	rc=0; "$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" != "$want" ]; then
		echo "expected exit $want, got $rc: $*"; cat "$T/err"; exit 1
	fi
}

# the hand-made trace: counts A 5, B 3, C 2, D 1 (first seen D C B A)
expect_rc 0 "$S" --trace "$F/oracle.txt" --budget 8K --policy oracle,first-touch
cat "$T/out"
[ "$(wc -l <"$T/out")" -eq 2 ]
grep -qx 'policy=first-touch hit=0.2727 oracle=0.7273 ratio=0.3750 migrated_mib=0 slowdown=2.0909' "$T/out"
grep -qx 'policy=oracle hit=0.7273 oracle=0.7273 ratio=1.0000 migrated_mib=0 slowdown=1.4091' "$T/out"
# 50% of the 4-page footprint is the same budget
"$S" --trace "$F/oracle.txt" --budget 50% --policy oracle,first-touch 2>/dev/null |
	cmp - "$T/out"
# the cost model: 3 hits and 8 misses at 100 and 250 ns (the defaults)
# are 2300 ns against 1100; at 100 and 400 ns, 3500 against 1100
"$S" --trace "$F/oracle.txt" --budget 8K --policy first-touch \
	--cost accesses=7,slow=400 2>/dev/null | grep -q ' slowdown=3.1818$'
expect_rc 2 "$S" --trace "$F/oracle.txt" --budget 8K --cost fast=0
grep -q -- '--cost fast=0' "$T/err"
expect_rc 2 "$S" --trace "$F/oracle.txt" --budget 8K --cost speed=1

# all policies: seven lines, in order, nothing else on stdout
expect_rc 0 "$S" --trace "$F/shift.vtb" --budget 25% --epoch 1s --csv "$T/e.csv"
cat "$T/out"
[ "$(wc -l <"$T/out")" -eq 7 ]
awk '{print $1}' "$T/out" | tr '\n' ' ' | grep -qx \
	'policy=vtier policy=hemem policy=memtis policy=tpp policy=tpp-scan policy=first-touch policy=oracle '
grep -Evq '^policy=[a-z-]+ hit=[01]\.[0-9]{4} oracle=[01]\.[0-9]{4} ratio=[0-9]+\.[0-9]{4} migrated_mib=[0-9]+ slowdown=[0-9]+\.[0-9]{4}$' "$T/out" && exit 1
grep -q 'samples' "$T/err"
# CSV: a header and one row per policy and epoch (4 s trace, 1 s epochs)
head -1 "$T/e.csv" | grep -qx 'policy,epoch,start_ms,samples,hits,hit_ratio,oracle_hits,oracle_ratio,promoted_pages,demoted_pages,migrated_bytes,fast_bytes,slowdown'
[ "$(grep -c '^vtier,' "$T/e.csv")" -eq 4 ]
[ "$(grep -c '^oracle,' "$T/e.csv")" -eq 4 ]
[ "$(wc -l <"$T/e.csv")" -eq 29 ]
# every policy sees every sample; first-touch never migrates
[ "$(awk -F, 'NR>1 {s[$1]+=$4} END {for (p in s) print s[p]}' "$T/e.csv" | sort -u)" = 8000 ]
awk -F, '$1=="first-touch" && $11!=0 {exit 1}' "$T/e.csv"
# an epoch's slowdown is at least 1 and at most slow/fast plus migration
awk -F, 'NR>1 && ($13 < 1 || ($1=="first-touch" && $13 > 2.5)) {exit 1}' "$T/e.csv"

# every shipped trace runs; the oracle is never below first-touch
for f in "$F"/*.vtb; do
	"$S" --trace "$f" --budget 12.5% --policy first-touch,oracle 2>/dev/null >"$T/o"
	awk '{split($2,a,"="); split($3,b,"="); if (a[2] > b[2]) exit 1}' "$T/o"
done
# a budget in bytes, and the trace on stdin
"$S" --trace - --budget 2M --policy vtier <"$F/zipf.vtb" 2>"$T/err" | grep -q '^policy=vtier '
grep -q 'budget 2M (512 pages)' "$T/err"

# convert: text -> binary -> text is the generator's own (canonical) text
"$S" gen zipf --pages 500 --samples 3000 --seed 5 -o "$T/g.txt"
"$S" convert "$T/g.txt" "$T/g.vtb"
"$S" convert "$T/g.vtb" "$T/g2.txt"
cmp "$T/g.txt" "$T/g2.txt"
"$S" convert --to binary "$T/g2.txt" - >"$T/g2.vtb"
cmp "$T/g.vtb" "$T/g2.vtb"
head -c 8 "$T/g.vtb" | grep -q VTTRACE1
# compact: well under a third of the text
[ $(($(wc -c <"$T/g.vtb") * 3)) -lt "$(wc -c <"$T/g.txt")" ]
# both formats replay the same
a=$("$S" --trace "$T/g.txt" --budget 25% 2>/dev/null)
b=$("$S" --trace "$T/g.vtb" --budget 25% 2>/dev/null)
[ "$a" = "$b" ]

# generators are reproducible from the seed, and differ across seeds
for k in zipf shift scan mix slide; do
	"$S" gen $k --pages 300 --samples 2000 --seed 9 --binary -o "$T/$k.1"
	"$S" gen $k --pages 300 --samples 2000 --seed 9 --binary -o "$T/$k.2"
	"$S" gen $k --pages 300 --samples 2000 --seed 10 --binary -o "$T/$k.3"
	cmp "$T/$k.1" "$T/$k.2"
	! cmp -s "$T/$k.1" "$T/$k.3"
done
[ "$("$S" gen mix --pages 100 --samples 4000 | awk '{print $2}' | sort -u | wc -l)" -eq 4 ]
# mix --weights: process i gets weight i / sum of the samples (1:3 here)
"$S" gen mix --procs 2 --skews 1,1 --weights 1,3 --pages 100 --samples 8000 \
	>"$T/w.txt"
n1=$(awk '$2 == 1000' "$T/w.txt" | wc -l)
[ "$n1" -ge 1700 ] && [ "$n1" -le 2300 ]
# slide: the hot window (--hot 10 of 1000 pages, all samples) moves on:
# the first and the last tenth of the trace share no page (a page: the
# address without its last 3 hex digits)
"$S" gen slide --pages 1000 --hot 10 --hot-frac 1 --travel 500 --samples 5000 \
	>"$T/s.txt"
head -500 "$T/s.txt" | awk '{print substr($3, 1, length($3) - 3)}' | sort -u >"$T/s.first"
tail -500 "$T/s.txt" | awk '{print substr($3, 1, length($3) - 3)}' | sort -u >"$T/s.last"
[ "$(wc -l <"$T/s.first")" -le 60 ]
[ -z "$(comm -12 "$T/s.first" "$T/s.last")" ]

# usage errors: exit 2
expect_rc 2 "$S"
expect_rc 2 "$S" --trace "$F/zipf.vtb"
expect_rc 2 "$S" --trace "$F/zipf.vtb" --budget lots
grep -q 'budget lots' "$T/err"
expect_rc 2 "$S" --trace "$F/zipf.vtb" --budget 25% --policy nope
grep -q "unknown policy 'nope'" "$T/err"
expect_rc 2 "$S" --trace "$F/zipf.vtb" --budget 25% --epoch 0
expect_rc 2 "$S" --trace "$F/zipf.vtb" --budget 25% --bogus
expect_rc 2 "$S" convert "$T/g.txt"
expect_rc 2 "$S" gen nosuchkind
expect_rc 2 "$S" gen shift --hot 0
expect_rc 2 "$S" gen mix --procs 2 --skews 1,1 --weights 1
grep -q -- '--weights needs a weight' "$T/err"
expect_rc 2 "$S" gen mix --weights 1,0
expect_rc 2 "$S" gen slide --pages 100 --hot 100
printf '[policy]\nhysteresis = lots\n' >"$T/bad.ini"
expect_rc 2 "$S" --trace "$F/zipf.vtb" --budget 25% --config "$T/bad.ini"
grep -q "bad.ini:2:" "$T/err"
# I/O errors: exit 1
expect_rc 1 "$S" --trace "$T/missing.txt" --budget 25%
grep -q 'missing.txt' "$T/err"

# malformed traces: exit 3, the message names the file and line
printf '1 10 0x1000\n2 10 0x2000\n\n3 10 0x3000 L S\n' >"$T/bad1.txt"
expect_rc 3 "$S" --trace "$T/bad1.txt" --budget 25%
cat "$T/err"
grep -q "bad1.txt:4: malformed sample" "$T/err"
printf '5 10 0x1000\n4 10 0x2000\n' >"$T/bad2.txt"
expect_rc 3 "$S" --trace "$T/bad2.txt" --budget 25%
grep -q "bad2.txt:2: time 4 is before" "$T/err"
printf '1 10 0x1000\n2 99999999 0x1000\n' >"$T/bad3.txt"
expect_rc 3 "$S" --trace "$T/bad3.txt" --budget 25%
grep -q "bad3.txt:2: pid 99999999 out of range" "$T/err"
expect_rc 3 "$S" convert "$T/bad1.txt" "$T/x.vtb"
grep -q "bad1.txt:4:" "$T/err"
: >"$T/empty.txt"
expect_rc 3 "$S" --trace "$T/empty.txt" --budget 25%
grep -q 'no samples' "$T/err"
# a truncated binary trace names the record and byte
head -c 1000 "$T/g.vtb" >"$T/cut.vtb"
expect_rc 3 "$S" --trace "$T/cut.vtb" --budget 25%
cat "$T/err"
grep -Eq "cut.vtb: record [0-9]+ at byte [0-9]+: .*truncated" "$T/err"
printf 'VTTRACE1\002\0\0\0\0\0\0\0' >"$T/v2.vtb"
expect_rc 3 "$S" --trace "$T/v2.vtb" --budget 25%
grep -q 'version 2' "$T/err"
echo "sim_cli: ok"
