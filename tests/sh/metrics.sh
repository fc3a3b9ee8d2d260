# metrics.sh - `vtierctl metrics` on both sides, checked by Prometheus's
# own `promtool check metrics` (Debian's prometheus package, fetched once
# with apt-get download into build/tools/prometheus, never installed):
# a real shim with two VMs and a real agent (replay FIFO, sim backend)
# connected to one of them; the values against the status and vms
# documents; every family the README lists and no other; the error
# path (no daemon: exit 1, nothing on stdout, the same message as
# status/vms).  Also the status schema: the keys of a live `vtierctl
# status --json` are exactly the README's "Status JSON" table.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-metrics.XXXXXX)
. "$SRC/tests/tools/shim_lib.sh"
trap shim_cleanup EXIT

t0=$(date +%s%N)
lap() {		# WHAT: the time since the last lap
	t=$(date +%s%N)
	echo "time: $1 $(( (t - t0) / 1000000 )) ms"
	t0=$t
}

# promtool, fetched once: a download into a scratch directory, renamed
# into place whole (two runs at once cannot see half of it)
P="$SRC/build/tools/prometheus"
PROMTOOL="$P/usr/bin/promtool"
if [ ! -x "$PROMTOOL" ]; then
	mkdir -p "$SRC/build/tools"
	D=$(mktemp -d "$SRC/build/tools/.prometheus.XXXXXX")
	if ! (cd "$D" && apt-get download prometheus) >"$T/apt.log" 2>&1; then
		apt-get update -qq >>"$T/apt.log" 2>&1 || true
		(cd "$D" && apt-get download prometheus) >>"$T/apt.log" 2>&1 ||
			{ cat "$T/apt.log"; rm -rf "$D"; echo "cannot fetch promtool"; exit 1; }
	fi
	dpkg-deb -x "$D"/prometheus_*.deb "$D/x"
	mv -T "$D/x" "$P" 2>/dev/null || [ -x "$PROMTOOL" ]
	rm -rf "$D"
fi
"$PROMTOOL" --version 2>&1 | head -1
lap "promtool ready"

# promcheck FILE: promtool accepts it and has nothing to say (a lint
# problem, e.g. a counter without _total, is a failure too); every
# sample follows its own family's TYPE (families are grouped) and no
# family comes twice.
promcheck() {
	rc=0; "$PROMTOOL" check metrics <"$1" >"$T/lint" 2>&1 || rc=$?
	if [ $rc -ne 0 ] || [ -s "$T/lint" ]; then
		echo "promtool check metrics: exit $rc"; cat "$T/lint"; cat "$1"
		return 1
	fi
	awk '/^# TYPE /{ if (seen[$3]++) { print "family twice: " $3; bad = 1 }
		cur = $3; next }
	    /^# HELP /{ next }
	    { n = $1; sub(/\{.*/, "", n)
	      if (n != cur) { print "not grouped: " $0; bad = 1 } }
	    END { exit bad }' "$1"
}
# val FILE SERIES: the value of one sample, e.g. 'x{vm="a"}'
val() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }
# families FILE: the family names, sorted
families() { sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$1" | sort; }
# readme_metrics PREFIX: the families the README's "Metrics" table lists
readme_metrics() {
	sed -n '/^### Metrics/,/^## /p' "$SRC/README.md" |
		sed -n "s/^| \`\($1[a-z_]*\).*/\1/p" | sort
}

cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/ctl.sock
listen_vsock = no
[vm web1]
socket = $T/web1.sock
budget = 96M
[vm web2]
socket = $T/web2.sock
budget = 32M
backing = /dev/shm/vtier-shimtest-$$-web2:0@0+4M
INI
# web2's memory: 4 MiB of which 1 MiB written (host_resident_bytes)
truncate -s 4M /dev/shm/vtier-shimtest-$$-web2
dd if=/dev/zero of=/dev/shm/vtier-shimtest-$$-web2 bs=1M count=1 seek=2 \
	conv=notrunc status=none
mkfifo "$T/fifo"
cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[budget]
dram = 256M
headroom = 1M
[sampler]
source = replay
replay = $T/fifo
[policy]
interval = 20ms
[migrate]
backend = sim
[shim]
transport = unix
address = $T/web1.sock
stats_interval = 100ms
INI
shim_start "$T/shim.ini"
"$B/vtier-agent" -c "$T/agent.ini" --sysfs "$SRC/tests/fixtures/topo-2node" \
	2>"$T/agent.log" &
agent=$!; bg_pids="$bg_pids $agent"
wait_for test -S "$T/agent.sock"
lap "shim and agent started"

# 2000 samples on 100 pages; wait until all are counted and promoted,
# the shim has welcomed the agent and holds its STATS for them (a STATS
# can count the promotions before the fast usage that follows them: wait
# for that too, or the snapshots below race with a later STATS)
timeout 20 python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write("%d 77 0x%x\n" % (i, 0x7f0000000000 + (i % 100) * 4096))
' "$T/fifo"
settled() {
	"$CTL" -s "$T/agent.sock" status --json >"$T/st.json" &&
	"$CTL" --shim "$T/ctl.sock" vms --json >"$T/vms.json" &&
	python3 -c '
import json, sys
s = json.load(open(sys.argv[1])); v = json.load(open(sys.argv[2]))
st = v["vms"][0]["stats"] or {}
sys.exit(0 if s["samples"] == 2000 and s["promoted_pages"] == 100
    and s["shim_state"] == "up" and s["budget_bytes"] == 96 << 20
    and st.get("samples") == 2000 and st.get("promoted_bytes") == 409600
    and s["fast_used_bytes"] == 409600 and st.get("fast_used_bytes") == 409600
    else 1)' "$T/st.json" "$T/vms.json"
}
wait_for settled || { cat "$T/st.json" "$T/vms.json" "$T/agent.log"; exit 1; }
lap "samples counted by the agent and the shim"

# ---- the agent's metrics
"$CTL" -s "$T/agent.sock" metrics >"$T/agent.prom"
"$CTL" -s "$T/agent.sock" status --json >"$T/st.json"
lap "vtierctl metrics (agent)"
promcheck "$T/agent.prom"
lap "promtool check (agent)"
head -n 9 "$T/agent.prom"
readme_metrics vtier_agent_ >"$T/want"
families "$T/agent.prom" >"$T/got"
diff "$T/want" "$T/got"
# json KEY: a scalar of the status read just after the metrics
python3 -c 'import json, sys
for k, v in json.load(open(sys.argv[1])).items():
    print(k, v)' "$T/st.json" >"$T/st.kv"
json() { awk -v k="$1" '$1 == k { print $2 }' "$T/st.kv"; }
[ "$(val "$T/agent.prom" vtier_agent_samples_total)" = "$(json samples)" ]
[ "$(val "$T/agent.prom" vtier_agent_samples_total)" = 2000 ]
[ "$(val "$T/agent.prom" vtier_agent_promoted_pages_total)" = 100 ]
[ "$(val "$T/agent.prom" vtier_agent_promoted_bytes_total)" = 409600 ]
[ "$(val "$T/agent.prom" vtier_agent_budget_bytes)" = $((96 << 20)) ]
[ "$(val "$T/agent.prom" vtier_agent_tracked_pages)" = "$(json tracked_pages)" ]
[ "$(val "$T/agent.prom" vtier_agent_adopted_pages_total)" = "$(json adopted_pages)" ]
[ "$(val "$T/agent.prom" vtier_agent_fast_used_bytes)" = "$(json fast_used_bytes)" ]
[ "$(val "$T/agent.prom" vtier_agent_budget_unattainable)" = 0 ]
[ "$(val "$T/agent.prom" vtier_agent_shim_connected)" = 1 ]
[ "$(val "$T/agent.prom" vtier_agent_up)" = 1 ]
[ "$(val "$T/agent.prom" 'vtier_agent_migration_errors_total{kind="busy"}')" = 0 ]
[ "$(grep -c '^vtier_agent_migration_errors_total{kind="[a-z]*"} ' "$T/agent.prom")" = 8 ]
grep -q "^vtier_agent_info{version=\"$(json version)\",sampler=\"replay\",backend=\"sim\"} 1$" "$T/agent.prom"
# CPU time: a number, and no more than the status read just after it
cpu=$(val "$T/agent.prom" vtier_agent_cpu_seconds_total)
awk -v a="$cpu" -v b="$(json cpu_seconds)" 'BEGIN { exit !(a + 0 > 0 && a + 0 <= b + 0) }'
lap "agent values"

# ---- the status schema against the README's table
python3 - "$T/st.json" "$SRC/README.md" <<'PY'
import json, re, sys
doc = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
sec = text.split("### Status JSON", 1)[1].split("\n#", 1)[0]
rows = {}
for line in sec.splitlines():
    m = re.match(r"\| `([a-z_]+)` \| ([a-z]+) \| (.*) \|$", line)
    if m:
        rows[m.group(1)] = (m.group(2), m.group(3))
kind = {str: "string", bool: "boolean", dict: "object", float: "number"}
bad = []
for k in sorted(set(doc) ^ set(rows)):
    bad.append("%s: %s" % (k, "not in the README" if k in doc else "not emitted"))
for k in sorted(set(doc) & set(rows)):
    v, (t, meaning) = doc[k], rows[k]
    if t == "integer":
        ok = type(v) is int
    elif t == "number":
        ok = type(v) in (int, float)
    else:
        ok = kind.get(type(v)) == t
    if not ok:
        bad.append("%s: %r is not a README %s" % (k, v, t))
    if t == "object" and set(v) != set(re.findall(r"`([a-z_]+)`", meaning)):
        bad.append("%s: members %s, README %s" % (k, sorted(v),
            re.findall(r"`([a-z_]+)`", meaning)))
for b in bad:
    print("status schema:", b)
if bad:
    sys.exit(1)
print("status schema: %d keys, README and agent agree" % len(doc))
PY
lap "status schema vs README"

# ---- the shim's metrics: web1 with its agent, web2 configured only
"$CTL" --shim "$T/ctl.sock" metrics >"$T/shim.prom"
lap "vtierctl --shim metrics"
promcheck "$T/shim.prom"
lap "promtool check (shim)"
grep -v '^#' "$T/shim.prom"
readme_metrics vtier_hostshim_ >"$T/want"
families "$T/shim.prom" >"$T/got"
diff "$T/want" "$T/got"
[ "$(val "$T/shim.prom" vtier_hostshim_vms)" = 2 ]
[ "$(val "$T/shim.prom" vtier_hostshim_connected_vms)" = 1 ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_connected{vm="web1"}')" = 1 ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_connected{vm="web2"}')" = 0 ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_budget_bytes{vm="web1"}')" = $((96 << 20)) ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_budget_bytes{vm="web2"}')" = $((32 << 20)) ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_pinned_bytes{vm="web2"}')" = 0 ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_host_resident_bytes{vm="web2",range="0"}')" = 1048576 ]
[ "$(grep -c '^vtier_hostshim_vm_host_resident_bytes' "$T/shim.prom")" = 1 ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_samples_total{vm="web1"}')" = 2000 ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_promoted_bytes_total{vm="web1"}')" = 409600 ]
[ "$(val "$T/shim.prom" 'vtier_hostshim_vm_fast_used_bytes{vm="web1"}')" = \
  "$(json_get "$T/vms.json" 'd["vms"][0]["stats"]["fast_used_bytes"]')" ]
# web2's agent never sent STATS: connected, budget, pinned, ranges and
# fast-node only, no stats samples rather than 0s
[ "$(grep -c '^vtier_hostshim_vm_[a-z_]*{vm="web2"} ' "$T/shim.prom")" = 5 ]
lap "shim values"

# ---- the error path: no daemon, nothing on stdout, status's message
for side in "-s $T/none.sock" "--shim $T/none.sock"; do
	case $side in -s*) ref=status ;; *) ref=vms ;; esac
	rc=0; "$CTL" $side metrics >"$T/out" 2>"$T/err" || rc=$?
	rc2=0; "$CTL" $side $ref >/dev/null 2>"$T/err2" || rc2=$?
	cat "$T/err"
	[ $rc -eq 1 ]
	[ $rc2 -eq 1 ]
	[ ! -s "$T/out" ]
	grep -q "cannot reach" "$T/err"
	cmp "$T/err" "$T/err2"
done
rc=0; "$CTL" -s "$T/agent.sock" metrics --json >"$T/out" 2>/dev/null || rc=$?
[ $rc -eq 2 ]
[ ! -s "$T/out" ]
lap "error paths"

# ---- the shim gone: the agent's shim_connected drops to 0
shim_stop TERM
agent_shim_down() {
	"$CTL" -s "$T/agent.sock" metrics >"$T/agent.prom" &&
	[ "$(val "$T/agent.prom" vtier_agent_shim_connected)" = 0 ]
}
wait_for agent_shim_down
promcheck "$T/agent.prom"
kill -TERM $agent; wait $agent
lap "shim stopped, agent's shim_connected 0"
echo "metrics: ok"
