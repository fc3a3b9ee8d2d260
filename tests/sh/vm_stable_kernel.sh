# vm_stable_kernel.sh - the test bed boots Debian's backported kernel
# (build-guest.sh, VTIER_KERNEL=backports); this keeps the release's own
# kernel (Debian 12: 6.1, what a Debian 12 VM runs) tested too: its guest
# (built in BUILD_DIR/guest-stable) passes the smoke checks (topology,
# serial port, vsock loopback, move_pages) and the promote scenario (the
# agent brings the hot set to node 0 within the budget, a workload exits
# mid-migration, data intact).
set -u
. "${SRC:-.}/tests/buildvars.sh"
bmake static || exit 1
GB=$B/guest-stable
mkdir -p "$GB"
export VTIER_KERNEL=stable
sh "$SRC/tests/vm/smoke.sh" "$GB" || exit 1
echo "vm_stable_kernel: guest kernel $(cat "$GB/vm/kernel.release")"
out=$(mktemp /tmp/vm_stable_kernel.XXXXXX)
trap 'rm -f "$out"' EXIT
"$SRC/tests/vm/run-guest.sh" -B "$GB" --no-build -q -t 240 \
	"$SRC/tests/vm/scenarios/promote.sh" "$B/static/vtier-agent" \
	"$B/static/vtierctl" "$B/static/tierload" \
	"$SRC/tests/vm/scenarios/lib.sh" >"$out" 2>&1
rc=$?
grep -E '^scenario:' "$out"
[ $rc = 0 ] || { cat "$out"; echo "vm_stable_kernel: promote FAILED (exit $rc)"; exit 1; }
echo "vm_stable_kernel: promote passed on $(cat "$GB/vm/kernel.release")"
