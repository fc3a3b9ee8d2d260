# agent_e2e.sh - the whole agent, end to end: source = replay on a
# generated hot/cold trace, backend = sim, on the 2-node fixture topology.
# At least 95% of the hot pages must end on the fast node and fast usage
# must never exceed the budget.
#
# The agent reads the file as fast as it can: 400,000 samples in well
# under a second of wall time.  With the default wall-clock heat (cooling
# = 8s) every page falls silent a second or two after the end of the
# file, and on a loaded machine (CI beside an ASan check) a first round
# planned on a partly read table, then the rounds that put it right came
# after the hot pages had gone silent: 49.1% of them on the fast node, 3
# empty plans, exit.  The heat clock of samples (cooling = auto) ages
# nothing while no samples come, as a replay at any speed needs.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT

python3 "$SRC/tests/tools/gentrace.py" --pids 2 --hot 4096 --cold 40000 \
	--samples 400000 --hot-frac 0.9 --out "$T/trace" --hot-list "$T/hot"
cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[budget]
dram = 48M
headroom = 4M
[sampler]
source = replay
replay = $T/trace
[heat]
cooling = auto
[policy]
interval = 50ms
[migrate]
backend = sim
rate = 1G
INI
"$B/vtier-agent" -c "$T/agent.ini" --sysfs "$SRC/tests/fixtures/topo-2node" \
	--exit-on-eof --dump-heat "$T/placement" >"$T/status.json"
cat "$T/status.json"

python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
st = json.load(open(t + "/status.json"))
hot = set()
for line in open(t + "/hot"):
    pid, addr = line.split()
    hot.add((int(pid), int(addr, 16)))
node = {}
for line in open(t + "/placement"):
    pid, addr, n, heat, size = line.split()
    node[(int(pid), int(addr, 16))] = int(n)
on_fast = sum(1 for k in hot if node.get(k) == 0)
share = on_fast / len(hot)
budget = st["budget_bytes"]
print("hot pages on fast: %d / %d = %.1f%%" % (on_fast, len(hot), 100 * share))
print("fast used max %d, budget %d" % (st["fast_used_max_bytes"], budget))
assert st["bad_trace_lines"] == 0, "bad lines"
assert st["samples"] == 400000, st["samples"]
assert share >= 0.95, "fewer than 95% of hot pages on the fast node"
assert st["fast_used_max_bytes"] <= budget, "fast usage exceeded the budget"
assert st["promoted_pages"] >= len(hot) * 0.95
# the policy's regime and its measure of pages sampled once
assert st["hot_set_moving"] in (True, False)
assert st["hot_set_tight"] in (True, False)
assert st["hot_set_moving"] or not st["hot_set_tight"]
assert st["hot_set_steady"] in (True, False)
assert not (st["hot_set_moving"] and st["hot_set_steady"])
assert st["sampled_once_pays"] in (True, False)
assert st["no_heat_gives_way"] in (True, False)
PY
