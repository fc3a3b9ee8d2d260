# shim_real_agent.sh - the real vtier-agent and the real vtier-hostshim
# over a Unix socket on this host: the budget in WELCOME, a live change
# with vtierctl reaching the agent's status within 1 s, the shim killed
# (the agent keeps its budget meanwhile) and restarted (the agent
# reconnects with backoff and is welcomed again).
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-shimreal.XXXXXX)
agent="" shim=""
trap 'for p in $agent $shim; do kill -9 $p 2>/dev/null || true; done; rm -rf "$T"' EXIT
cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/ctl.sock
listen_vsock = no
[vm web1]
socket = $T/web1.sock
budget = 96M
INI
mkfifo "$T/fifo"
cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[budget]
dram = 256M
headroom = 8M
[sampler]
source = replay
replay = $T/fifo
[policy]
interval = 50ms
[migrate]
backend = sim
[shim]
transport = unix
address = $T/web1.sock
stats_interval = 200ms
INI
st() { "$B/vtierctl" -s "$T/agent.sock" status --json |
	sed -n "s/^  \"$1\": \"*\([^\",]*\)\"*,*$/\1/p"; }
wait_st() {	# KEY VALUE TENTHS
	i=0
	while [ "$(st "$1")" != "$2" ] && [ $i -lt "$3" ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(st "$1")" = "$2" ] || { echo "status $1 = $(st "$1"), expected $2"; return 1; }
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

"$B/vtier-hostshim" -c "$T/shim.ini" 2>"$T/shim.log" & shim=$!
for i in $(seq 50); do [ -S "$T/ctl.sock" ] && break; sleep 0.1; done
"$B/vtier-agent" -c "$T/agent.ini" --sysfs "$SRC/tests/fixtures/topo-2node" \
	2>"$T/agent.log" & agent=$!
wait_st shim_state up 50
wait_st budget_bytes $((96 << 20)) 10
[ "$(st budget_source)" = shim ]
[ "$(st shim_vm)" = web1 ]
echo "welcomed as web1 with 96M"

t0=$(now_ms)
"$B/vtierctl" --shim "$T/ctl.sock" budget web1 64M
wait_st budget_bytes $((64 << 20)) 10
dt=$(( $(now_ms) - t0 ))
echo "live budget change reached the agent's status in ${dt} ms"
[ $dt -lt 1000 ]

kill -KILL $shim; wait $shim 2>/dev/null || true; shim=""
wait_st shim_state down 30
sleep 1
[ "$(st budget_bytes)" = $((64 << 20)) ] || { echo "budget lost while the shim was away"; exit 1; }
echo "shim gone: agent keeps 64M (state $(st shim_state))"

sed -i 's/^budget = 96M/budget = 80M/' "$T/shim.ini"
"$B/vtier-hostshim" -c "$T/shim.ini" 2>>"$T/shim.log" & shim=$!
wait_st shim_connects 2 100
wait_st budget_bytes $((80 << 20)) 10
echo "shim restarted: agent reconnected ($(st shim_connects) connects), budget 80M"
"$B/vtierctl" --shim "$T/ctl.sock" vms | tee "$T/vms"
grep -q web1 "$T/vms"
kill -TERM $agent; wait $agent; agent=""
grep -q "connected over unix as VM 'web1'" "$T/agent.log"
