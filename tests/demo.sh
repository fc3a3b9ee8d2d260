#!/bin/sh
# demo.sh BUILD_DIR - the demo: the agent tiering a workload in a two-node
# guest.  The guest test bed is being built (issue 3); until it lands this
# prints what the demo will do and runs the host-side end-to-end instead.
B=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
echo "demo: the two-node guest demo arrives with the guest test bed."
echo "demo: running the host-side end-to-end (replay sampler, sim migrator) instead:"
B=$B SRC=$SRC sh "$SRC/tests/sh/agent_e2e.sh"
