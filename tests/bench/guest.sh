# guest.sh - the guest migration benchmark (the last part of make bench):
# builds the static programs, boots the two-node test guest once and runs
# $B/static/guest_migrate in it (B: make's build dir, default build):
# vtier's migrator vs numa_migrate_pages vs one move_pages call per page,
# 4 KiB pages and THP, moving a buffer from node 1 to node 0.  Prints the
# program's "bench" lines (all of its output on failure) and how long the
# whole run took.
#
#   GUEST_BENCH_MIB=128   buffer size     GUEST_BENCH_REPS=3  rounds
#   GUEST_BENCH_THP=1     the THP run     GUEST_BENCH_VERBOSE=1  per move
#
# Exit: 0 measured, 1 a method left pages off node 0 or changed data (or
# the guest failed); a guest without two nodes prints skip and exits 0.
set -u
SRC=${SRC:-.}
mib=${GUEST_BENCH_MIB:-128}
reps=${GUEST_BENCH_REPS:-3}
opts="-m $mib -r $reps"
[ "${GUEST_BENCH_THP:-1}" = 1 ] && opts="$opts -H"
[ "${GUEST_BENCH_VERBOSE:-0}" = 1 ] && opts="$opts -v"

start=$(date +%s)
B=${B:-$SRC/build}	# the build dir make bench was given
. "$SRC/tests/buildvars.sh"
bmake static || exit 1
out=$(mktemp /tmp/guest_bench.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT

# numa_balancing off: the kernel would pull node-1 pages to the CPU node
# on its own, in the middle of a timing.
"$SRC/tests/vm/run-guest.sh" -B "$B" -q -t 900 - \
	"$B/static/guest_migrate" >"$out" 2>&1 <<EOF
echo 0 >/proc/sys/kernel/numa_balancing
guest_migrate $opts
EOF
rc=$?
case $rc in
0)	grep -E '^(bench|skip|guest_migrate)' "$out" ;;
77)	grep '^skip' "$out"; rc=0 ;;
*)	cat "$out"; rc=1 ;;
esac
echo "bench guest_migrate: whole run (build, boot, $reps rounds) took $(( $(date +%s) - start )) s"
exit $rc
