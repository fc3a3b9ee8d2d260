#!/bin/sh
# smoke.sh [BUILD_DIR] - build the test-bed guest and check it (POSIX sh).
#
# Runs build-guest.sh, then boots the guest once with smoke-guest.sh as the
# scenario and host-ping.py on the host end of the virtio-serial port.  The
# guest checks its NUMA topology and memory blocks against DESIGN.md, the
# port (and a round trip to the host), vsock loopback, and numa_probe's
# move_pages across the nodes.  Prints the timings; exit 0 on success.
#
# BUILD_DIR defaults to $B (as tests/run.sh exports it) or build.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-${B:-build}}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

t0=$(now_ms)
"$SRC/tests/vm/build-guest.sh" "$B" || { echo "smoke: build failed"; exit 1; }
t1=$(now_ms)

log=$(mktemp /tmp/vtier-smoke.XXXXXX)
trap 'rm -f "$log"' EXIT
if command -v python3 >/dev/null; then
	set -- -e VTIER_SMOKE_HOST=1 --host-cmd "python3 '$SRC/tests/vm/host-ping.py'"
else
	echo "smoke: no python3 on the host: skipping the host round trip"
	set --
fi
# run-guest's progress lines (stderr) go to the log too, for the timings.
"$SRC/tests/vm/run-guest.sh" -B "$B" --no-build -t "${VTIER_SMOKE_TIMEOUT:-300}" \
	"$@" "$SRC/tests/vm/smoke-guest.sh" 2>"$log"
rc=$?
t2=$(now_ms)
grep -v '^run-guest: scenario exit' "$log" | grep -v '^build-guest:' >&2
summary=$(grep '^run-guest: scenario exit' "$log" | tail -n 1)
echo "smoke: ${summary#run-guest: }"
echo "smoke: build-guest $(secs $((t1 - t0)))s, run-guest $(secs $((t2 - t1)))s, smoke total $(secs $((t2 - t0)))s"
if [ $rc = 0 ]; then
	echo "smoke: PASS"
else
	echo "smoke: FAIL (exit $rc)"
fi
exit $rc
