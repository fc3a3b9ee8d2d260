# sim_lackey.sh - the lackey converter on a real program's output: a
# small C program sweeps a 1 MiB buffer under
# `valgrind --tool=lackey --trace-mem=yes`; the converted trace must have
# the program's pid, samples 1 in N of its data accesses, cover the
# buffer's pages at their real addresses, and replay; through the LLC
# model (--llc) only the misses are sampled.  Also: a malformed
# access line is refused with its line number.  Skips without valgrind
# (make check installs it: DEB_DEPS).
set -eu
: "${B:=build}" "${SRC:=.}"
S="$B/vtier-sim"
T=$(mktemp -d /tmp/vtier-simlk.XXXXXX)
trap 'rm -rf "$T"' EXIT

if ! command -v valgrind >/dev/null; then
	echo "SKIP: valgrind not installed"
	exit 77
fi

cat >"$T/sweep.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	enum { N = 1 << 20 };
	volatile char *b = malloc(N);
	unsigned long s = 0;

	for (int r = 0; r < 2; r++)
		for (int i = 0; i < N; i += 64)
			b[i] = (char)i;
	for (int r = 0; r < 16; r++)
		for (int i = 0; i < 65536; i += 64)
			s += (unsigned char)b[i];
	printf("%lx %lx %lu\n", (unsigned long)b, (unsigned long)(b + N), s);
	return 0;
}
EOF
cc -O1 -o "$T/sweep" "$T/sweep.c"

valgrind --tool=lackey --trace-mem=yes --log-file="$T/lackey.out" \
	"$T/sweep" >"$T/prog.out"
read -r lo hi _ <"$T/prog.out"
pid=$(sed -n 's/^==\([0-9]*\)==.*/\1/p' "$T/lackey.out" | head -1)
data=$(grep -c '^ [LSM] ' "$T/lackey.out")

"$S" lackey --every 10 -o "$T/sweep.txt" "$T/lackey.out" 2>"$T/err"
cat "$T/err"
n=$(grep -vc '^#' "$T/sweep.txt")
# one sample per 10 data accesses, of the program's pid
[ "$n" -eq $((data / 10)) ]
[ "$(awk '{print $2}' "$T/sweep.txt" | sort -u)" = "$pid" ]
# 20000 samples a second of trace time by default
last=$(tail -1 "$T/sweep.txt" | awk '{print $1}')
[ "$last" -eq $(( (n - 1) * 50000 )) ]
# the 256 pages of the buffer are all there, at their real addresses
inbuf=$(python3 -c '
import sys
lo, hi = int(sys.argv[1], 16), int(sys.argv[2], 16)
pages = {int(l.split()[2], 16) >> 12 for l in open(sys.argv[3])}
print(sum(1 for p in pages if lo >> 12 <= p <= (hi - 1) >> 12))' \
	"$lo" "$hi" "$T/sweep.txt")
echo "pid $pid, $data data accesses, $n samples, $inbuf buffer pages"
[ "$inbuf" -ge 256 ]
# stores are marked as stores (the first sweep writes)
grep -q ' S$' "$T/sweep.txt"
grep -q ' L$' "$T/sweep.txt"

# the same through a pipe into the binary format, then a replay
valgrind --tool=lackey --trace-mem=yes --log-fd=9 "$T/sweep" 9>&1 >/dev/null 2>/dev/null |
	"$S" lackey --every 10 --binary -o "$T/sweep.vtb" 2>/dev/null
"$S" convert "$T/sweep.vtb" "$T/back.txt"
# (stdout to /dev/null instead of a file: a few accesses more or less)
m=$(wc -l <"$T/back.txt")
[ $((m - n)) -le $((n / 100)) ] && [ $((n - m)) -le $((n / 100)) ]
"$S" --trace "$T/sweep.vtb" --budget 25% --epoch 100ms >"$T/sum"
[ "$(wc -l <"$T/sum")" -eq 7 ]

# what PEBS sees (--llc): the first sweep misses every line of the 1 MiB
# buffer whatever the cache; with 256 KiB the second sweep misses again
# and so does the first of the 64 KiB reads (the rest hit), with 2 MiB
# nothing after the first sweep misses: 16384 + 1024 misses apart
"$S" lackey --every 1 --llc 256K -o "$T/l256.txt" "$T/lackey.out" 2>"$T/err"
cat "$T/err"
grep -q 'LLC 256K, 16-way' "$T/err"
"$S" lackey --every 1 --llc 2M,8 -o "$T/l2m.txt" "$T/lackey.out" 2>/dev/null
n256=$(grep -vc '^#' "$T/l256.txt")
n2m=$(grep -vc '^#' "$T/l2m.txt")
echo "LLC misses: $n256 with 256K, $n2m with 2M"
d=$((n256 - n2m))
[ "$d" -ge 16000 ] && [ "$d" -le 19000 ]
[ "$n2m" -ge 16384 ] && [ "$n2m" -lt $((data / 2)) ]
inllc=$(python3 -c '
import sys
lo, hi = int(sys.argv[1], 16), int(sys.argv[2], 16)
pages = {int(l.split()[2], 16) >> 12 for l in open(sys.argv[3])}
print(sum(1 for p in pages if lo >> 12 <= p <= (hi - 1) >> 12))' \
	"$lo" "$hi" "$T/l256.txt")
[ "$inllc" -ge 256 ]
rc=0; "$S" lackey --llc 100K,3 "$T/lackey.out" >/dev/null 2>"$T/err" || rc=$?
[ $rc -eq 2 ] && grep -q -- '--llc 100K,3' "$T/err"

# a broken access line is refused with its line number
printf '==42== Lackey\nI  04001000,3\n L 1fff0000,8\n S zz,8\n' >"$T/bad.out"
rc=0; "$S" lackey "$T/bad.out" >/dev/null 2>"$T/err" || rc=$?
cat "$T/err"
[ $rc -eq 3 ]
grep -q 'bad.out:4: malformed access line' "$T/err"
# instruction fetches only count with --instr; the pid comes from ==42==
printf '==42== x\nI  04001000,3\n L 1000,8\nI  04001003,3\n M 2000,4\n' >"$T/ok.out"
[ "$("$S" lackey --every 1 "$T/ok.out" 2>/dev/null | wc -l)" -eq 2 ]
[ "$("$S" lackey --every 1 --instr "$T/ok.out" 2>/dev/null | wc -l)" -eq 4 ]
"$S" lackey --every 1 "$T/ok.out" 2>/dev/null | head -1 | grep -qx '0 42 0x1000 L'
"$S" lackey --every 1 "$T/ok.out" 2>/dev/null | tail -1 | grep -qx '50000 42 0x2000 S'
echo "sim_lackey: ok"
