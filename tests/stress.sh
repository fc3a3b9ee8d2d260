#!/bin/sh
# stress.sh - make stress: the guest scenarios whose outcome depends on
# how much CPU the host gives the guest, run with host cores kept busy
# (shell loops, killed by their pids at the end), as on a shared host:
#   bigcold  240 MiB first touched on node 0 and never used again, a
#            16 MiB hot set on node 1, budget = node 0's use + 48 MiB
#   demo     make demo: the hot set moves once, the host shim sets and
#            lowers the budget
# For each run: samples the workload wrote, the agent read and what was
# lost, the hot set on the fast node, and the scenario's verdict.  Not in
# make check: what it measures is timing on a 2-core machine.
#   STRESS_RUNS=N    runs of each (default 1)
#   STRESS_BUSY=N    host busy loops (default 1; 0: an idle host)
#   STRESS_ONLY=...  bigcold, demo or both (default both)
#   STRESS_KERNEL=stable  bigcold in a guest that boots the release's
#                    own kernel (Debian 12: 6.1, built in
#                    build/guest-stable) instead of the test bed's
#                    backported one: 6.1 flushes TLBs page by page while
#                    migrating, which a loaded host turns into a demotion
#                    rate limit (README, "Limits")
#   STRESS_KERNEL_DEB=FILE  bigcold in a guest that boots this
#                    linux-image .deb instead, built in build/guest-NAME
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$SRC/build
GB=$B
# The kernel choice is bigcold's alone: the demo's guest stays the test
# bed's (build/vm).
kname=''
kenv=VTIER_KERNEL=${VTIER_KERNEL:-backports}
if [ -n "${STRESS_KERNEL_DEB:-}" ]; then
	[ -f "$STRESS_KERNEL_DEB" ] || { echo "stress: no file $STRESS_KERNEL_DEB" >&2; exit 2; }
	kenv="VTIER_KERNEL_DEB=$(cd "$(dirname "$STRESS_KERNEL_DEB")" && pwd)/$(basename "$STRESS_KERNEL_DEB")"
	GB=$B/guest-$(basename "$STRESS_KERNEL_DEB" .deb)
	kname=$(basename "$STRESS_KERNEL_DEB")
elif [ -n "${STRESS_KERNEL:-}" ]; then
	case $STRESS_KERNEL in
	stable|backports) ;;
	*) echo "stress: STRESS_KERNEL=$STRESS_KERNEL: say stable or backports" >&2; exit 2 ;;
	esac
	kenv=VTIER_KERNEL=$STRESS_KERNEL
	[ "$STRESS_KERNEL" = stable ] && GB=$B/guest-stable
	kname="the $STRESS_KERNEL kernel"
fi
. "$SRC/tests/buildvars.sh"
runs=${STRESS_RUNS:-1} busy=${STRESS_BUSY:-1} only=${STRESS_ONLY:-bigcold demo}
bmake static "$BR/vtier-hostshim" "$BR/vtierctl" || exit 1
T=$(mktemp -d /tmp/vtier-stress.XXXXXX)
loops=
trap 'for p in $loops; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT
i=0
while [ $i -lt "$busy" ]; do
	sh -c 'while :; do :; done' &
	loops="$loops $!"
	i=$((i + 1))
done
echo "stress: $busy host busy loop(s) ($(nproc) CPUs), $runs run(s) each: $only${kname:+ (the bigcold guest: $kname)}"
fails=0
pct() { awk "BEGIN { printf \"%.1f\", ${2:-0} ? 100 * ${1:-0} / $2 : 0 }"; }
r=1
while [ $r -le "$runs" ]; do
	for s in $only; do
		start=$(date +%s)
		case $s in
		bigcold)
			env "$kenv" "$SRC/tests/vm/run-guest.sh" -B "$GB" -q -t 240 \
				"$SRC/tests/vm/scenarios/bigcold.sh" \
				"$B/static/vtier-agent" "$B/static/vtierctl" \
				"$B/static/tierload" "$SRC/tests/vm/scenarios/lib.sh" \
				>"$T/out" 2>&1
			rc=$?
			line=$(grep '^scenario: samples written' "$T/out")
			w=$(echo "$line" | sed -n 's/.*written \([0-9]*\).*/\1/p')
			rd=$(echo "$line" | sed -n 's/.* read \([0-9]*\).*/\1/p')
			lost=$(echo "$line" | sed -n 's/.* lost \([0-9]*\).*/\1/p')
			hof=$(sed -n 's/^scenario: hot_on_fast=\([0-9.]*\)%.*/\1/p' "$T/out")
			extra="cold_on_fast=$(echo "$line" | sed -n 's/.*cold_on_fast=\([0-9.?]*\)%.*/\1/p')% $(echo "$line" | sed -n 's/.*\(rounds [0-9]* in [0-9]* s\).*/\1/p'), longest $(sed -n 's/^scenario: rounds: longest \([0-9]*\) ms.*/\1/p' "$T/out") ms"
			;;
		demo)
			sh "$SRC/tests/demo.sh" >"$T/out" 2>&1
			rc=$?
			line=$(grep '^demo: samples written' "$T/out")
			w=$(echo "$line" | sed -n 's/.*written \([0-9]*\),.*/\1/p')
			rd=$(echo "$line" | sed -n 's/.*agent \([0-9]*\),.*/\1/p')
			lost=$(echo "$line" | sed -n 's/.*lost \([0-9]*\) .*/\1/p')
			hof=$(sed -n 's/^demo: hot_on_fast=\([0-9.]*\)%.*/\1/p' "$T/out")
			extra="$(tail -n 1 "$T/out" | sed 's/^demo: hot_on_fast=[0-9.]*% //'), $(echo "$line" | sed -n 's/.*\(policy rounds [0-9]*\), \(longest [0-9]* ms\).*/\1, \2/p')"
			;;
		*) echo "stress: no scenario $s"; exit 2 ;;
		esac
		verdict=ok
		[ $rc = 0 ] || { verdict="FAILED (exit $rc)"; fails=$((fails + 1)); }
		echo "stress: $s run $r: samples written ${w:-?} read ${rd:-?} ($(pct "$rd" "$w")%) lost ${lost:-?}; hot_on_fast=${hof:-?}% $extra; $(( $(date +%s) - start )) s: $verdict"
		[ $rc = 0 ] || sed 's/^/    | /' "$T/out" | tail -n 40
	done
	r=$((r + 1))
done
echo "stress: $fails failed"
[ $fails = 0 ]
