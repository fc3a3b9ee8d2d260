# agent_signals.sh - a running agent (replay from a FIFO, sim backend):
# vtierctl status in both forms, samples arriving live, SIGHUP reload of
# a good and of a broken file (the old config stays), SIGUSR1 stats, a
# second agent on the same socket refused, SIGTERM exits 0 and removes
# the socket.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-sig.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$T"' EXIT

mkfifo "$T/fifo"
write_ini() {	# budget
	cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[budget]
dram = $1
headroom = 1M
[sampler]
source = replay
replay = $T/fifo
[policy]
interval = 20ms
[migrate]
backend = sim
INI
}
write_ini 16M
"$B/vtier-agent" -c "$T/agent.ini" --sysfs "$SRC/tests/fixtures/topo-2node" \
	2>"$T/log" &
pid=$!
for i in $(seq 50); do [ -S "$T/agent.sock" ] && break; sleep 0.1; done
[ -S "$T/agent.sock" ]

kill -0 $pid
timeout 20 python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write("%d 77 0x%x\n" % (i, 0x7f0000000000 + (i % 100) * 4096))
    f.write("this line is malformed\n")
' "$T/fifo"
ok=0
for i in $(seq 50); do
	"$B/vtierctl" -s "$T/agent.sock" status --json >"$T/st.json"
	if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["samples"]==2000 and d["bad_trace_lines"]==1 and d["promoted_pages"]==100 else 1)' "$T/st.json"; then ok=1; break; fi
	sleep 0.1
done
cat "$T/st.json"
[ $ok = 1 ]
"$B/vtierctl" -s "$T/agent.sock" status | tee "$T/human"
grep -q 'budget *16.0 MiB (from config)' "$T/human"
grep -q 'bad trace lines 1' "$T/human"

# a second agent on the same socket is refused
rc=0; "$B/vtier-agent" -c "$T/agent.ini" --sysfs "$SRC/tests/fixtures/topo-2node" 2>"$T/log2" || rc=$?
[ $rc -ne 0 ]
grep -q 'another vtier-agent is running' "$T/log2"

write_ini 32M
kill -HUP $pid
for i in $(seq 50); do grep -q reloaded "$T/log" && break; sleep 0.1; done
"$B/vtierctl" -s "$T/agent.sock" status --json | grep -q '"budget_bytes": 33554432'

printf '[budget]\ndram = 8M\nbogus = 1\n' >"$T/agent.ini"
kill -HUP $pid
for i in $(seq 50); do grep -q 'reload failed' "$T/log" && break; sleep 0.1; done
grep 'reload failed' "$T/log" | grep -q "agent.ini:3:"
"$B/vtierctl" -s "$T/agent.sock" status --json | grep -q '"budget_bytes": 33554432'

kill -USR1 $pid
for i in $(seq 50); do grep -q 'stats:' "$T/log" && break; sleep 0.1; done
grep -q 'stats:' "$T/log"

kill -TERM $pid
rc=0; wait $pid || rc=$?
pid=""
cat "$T/log"
[ $rc -eq 0 ]
[ ! -e "$T/agent.sock" ]
