# bench_agent.sh - make bench's agent CPU benchmark (tests/bench/bench_agent.c)
# runs against this build's agent and prints its summary line.  A short
# run (1 s per rate after 1 s): no figure is checked, timing is not a test.
set -eu
. "${SRC:-.}/tests/buildvars.sh"
bmake "$BR/bench/bench_agent" >/dev/null
out=$(cd "$SRC" && BENCH_AGENT_WARM=1 BENCH_AGENT_SECONDS=1 "$B/bench/bench_agent")
echo "$out"
echo "$out" | grep -q '^  agent CPU at 20k samples/s: [0-9]* ns/sample, [0-9.]*% of one CPU'
