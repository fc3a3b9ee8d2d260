#!/bin/sh
# demo.sh - `make demo`: boot the two-node guest (building it and
# installing what it needs on first use); the host shim gives the guest's
# agent its DRAM budget over virtio-serial and, 20 s in, lowers it live
# with `vtierctl budget`; the agent tiers a workload.  Prints a line per
# second and ends with
#   demo: hot_on_fast=NN.N% fast_used=NN MiB budget=NN MiB host_fast=NN MiB data_ok=yes|no
# (hot_on_fast: of the hot set as the workload's last phase ended;
# host_fast: the host memory behind node 0 when the workload ended, the
# allocated blocks of its backing file)
# Exit 0 only if hot_on_fast >= 95%, fast_used <= budget and data_ok=yes.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$SRC/build
. "$SRC/tests/buildvars.sh"
bmake static "$BR/vtier-hostshim" "$BR/vtierctl" || exit 1
ST=$B/static
T=$(mktemp -d /tmp/vtier-demo.XXXXXX)
trap 'rm -rf "$T"' EXIT
BUDGET0=${DEMO_BUDGET:-128M} BUDGET1=${DEMO_BUDGET_LATER:-112M}

cat >"$T/host.sh" <<HOST
SRC=$SRC B=$B T=$T BUDGET0=$BUDGET0 BUDGET1=$BUDGET1
HOST
cat >>"$T/host.sh" <<'HOST'
. "$SRC/tests/vm/host-shim.sh"
host_shim_start demo-guest "$BUDGET0"
# once the agent reports samples, give it 20 s, then lower the budget
host_shim_wait_samples
sleep 20
ctl budget demo-guest "$BUDGET1" >"$T/host.out" 2>&1
echo "vtierctl budget demo-guest $BUDGET1 (host, t=+20s)" >>"$T/host.out"
wait $SHIM
HOST

# the guest's lines as they come, but its summary line last of all,
# after the host's
{
	"$SRC/tests/vm/run-guest.sh" -B "$B" -q -t 180 --host-listens \
		--host-sock "$T/guest.sock" --host-cmd "sh $T/host.sh" \
		--host-grace 2 "$SRC/tests/vm/scenarios/demo.sh" \
		"$ST/vtier-agent" "$ST/vtierctl" "$ST/tierload" \
		"$SRC/tests/vm/scenarios/lib.sh"
	echo $? >"$T/rc"
} | while IFS= read -r line; do
	case $line in
	"demo: hot_on_fast="*) echo "$line" >"$T/summary" ;;
	*) printf '%s\n' "$line" ;;
	esac
done
rc=$(cat "$T/rc" 2>/dev/null || echo 1)
[ -s "$T/host.out" ] && sed 's/^/demo: host: /' "$T/host.out"
[ -s "$T/summary" ] && cat "$T/summary"
exit "$rc"
