# vm_noballoon.sh - the two-node guest without a balloon device
# (run-guest.sh --no-balloon) running tests/vm/scenarios/hostmem.sh: the
# agent says free_page_reporting=no in its status and warns once in its
# log, naming the QEMU and libvirt fix, and nothing else changes (the
# workload's data checked, the budget kept).  Exit 77 when the test bed
# cannot run here.
set -u
. "${SRC:-.}/tests/buildvars.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu"; exit 77; }
bmake static || exit 1
ST=$B/static
T=$(mktemp -d /tmp/vtier-noballoon.XXXXXX)
trap 'rm -rf "$T"' EXIT
start=$(date +%s)
"$SRC/tests/vm/run-guest.sh" -B "$B" -q -t 240 --no-balloon \
	-e GATE=0 -e SECONDS_RUN=15 -e HOT_MIN=0 \
	"$SRC/tests/vm/scenarios/hostmem.sh" "$ST/vtier-agent" "$ST/vtierctl" \
	"$ST/tierload" "$SRC/tests/vm/scenarios/lib.sh" >"$T/out" 2>&1
rc=$?
grep -E '^scenario:' "$T/out"
if [ $rc = 0 ] && grep -q 'free_page_reporting=no' "$T/out" &&
   grep -q "agent: .*virtio-balloon-pci,free-page-reporting=on.*freePageReporting='on'" "$T/out"; then
	echo "vm_noballoon: passed in $(( $(date +%s) - start )) s"
else
	cat "$T/out"
	echo "vm_noballoon: FAILED (exit $rc)"; exit 1
fi
