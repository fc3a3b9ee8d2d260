#!/bin/sh
# demo.sh BUILD_DIR - `make demo`: boot the two-node guest (building it and
# installing what it needs on first use) and run the agent tiering a
# workload under a DRAM budget.  Prints a line per second and ends with
#   demo: hot_on_fast=NN.N% fast_used=NN MiB budget=NN MiB data_ok=yes|no
# Exit 0 only if hot_on_fast >= 95%, fast_used <= budget and data_ok=yes.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
make -s -C "$SRC" static || exit 1
ST=$SRC/build/static
exec "$SRC/tests/vm/run-guest.sh" -B "$SRC/build" -q -t 180 \
	"$SRC/tests/vm/scenarios/demo.sh" "$ST/vtier-agent" "$ST/vtierctl" \
	"$ST/tierload" "$SRC/tests/vm/scenarios/lib.sh"
