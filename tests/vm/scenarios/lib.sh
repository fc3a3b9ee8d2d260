# lib.sh - helpers for guest scenarios (busybox sh).  Sourced by each
# scenario; the agent, vtierctl and tierload are in /vtier (on PATH).

N=/sys/devices/system/node
fails=0
ok()  { echo "scenario: ok   $*"; }
bad() { echo "scenario: FAIL $*"; fails=$((fails + 1)); }

# Used bytes of a node, from its meminfo (what the budget counts).
node_used() {
	awk '/MemUsed:/ { print $4 * 1024 }' "$N/node$1/meminfo"
}

# node_used_settled NODE LIMIT: node_used, read again while it is over
# LIMIT (up to 5 times, 0.1 s apart), the lowest reading.  Free page
# reporting takes up to 32 free blocks (up to 128 MiB) off the free lists
# while the host discards them, and MemUsed counts them meanwhile: the
# 6.1 test bed read 187 MiB on node 0, and 59 MiB at the next reading a
# moment later (0 of 12 runs without the balloon device, 2 of 14 with
# it).  Usage over LIMIT for 0.5 s counts; a shorter reading over it goes
# into /run/transient_used (the highest) for the scenario to print.
# Called as $(...): its variables stay in that subshell.
node_used_settled() {
	u=$(node_used "$1") lo=$u i=0 lim=$2
	case $lim in ''|*[!0-9]*) lim=0 ;; esac	# none (write_ini auto)
	while [ $lim -gt 0 ] && [ "$lo" -gt $lim ] && [ $i -lt 5 ]; do
		sleep 0.1; i=$((i + 1))
		v=$(node_used "$1")
		[ "$v" -lt "$lo" ] && lo=$v
	done
	if [ $lim -gt 0 ] && [ "$u" -gt $lim ] && [ "$lo" -le $lim ]; then
		seen=$(cat /run/transient_used 2>/dev/null || echo 0)
		[ "$u" -gt "$seen" ] && echo "$u" >/run/transient_used
	fi
	echo "$lo"
}

# What node_used_settled set aside, if anything: a line for the scenario.
note_transient() {
	[ -s /run/transient_used ] &&
		echo "scenario: node0 read $(( $(cat /run/transient_used) / 1048576 )) MiB for under 0.5 s (free page reporting: blocks in flight to the host count as used); not counted"
	return 0
}

# A number from the agent's status JSON.
status_num() {	# 0 while the agent is not answering
	v=$(vtierctl -s /run/vtier/agent.sock status --json 2>/dev/null |
		sed -n "s/^  \"$1\": \\([0-9.]*\\).*/\\1/p")
	echo "${v:-0}"
}

# A value (number or string) from the agent's status JSON, "" if none.
status_str() {
	vtierctl -s /run/vtier/agent.sock status --json 2>/dev/null |
		sed -n "s/^  \"$1\": \"*\([^\",]*\)\"*,*$/\1/p"
}

# The policy's regime from the status: settled, steady, moving or tight.
regime() {
	vtierctl -s /run/vtier/agent.sock status --json 2>/dev/null | awk '
		/"hot_set_moving": true/ { m = 1 }
		/"hot_set_tight": true/ { t = 1 }
		/"hot_set_steady": true/ { s = 1 }
		END { print t ? "tight" : m ? "moving" : s ? "steady" : "settled" }'
}

# wait_status KEY VALUE SECONDS: 0 once the status shows it in time.
wait_status() {
	i=0
	while [ "$(status_str "$1")" != "$2" ] && [ $i -lt $(($3 * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$(status_str "$1")" = "$2" ]
}

# An agent for the host-shim tests: replay sampler, sim migrator, the
# PEBS buffers (here the DS areas: no PMU) pre-faulted before sampling.
# write_shim_ini TRANSPORT ADDRESS
write_shim_ini() {
	cat >/run/agent.ini <<INI
[agent]
status_socket = /run/vtier/agent.sock
[sampler]
source = replay
replay = /run/samples.fifo
prefault = always
[migrate]
backend = sim
[shim]
transport = $1
address = $2
stats_interval = 500ms
timeout = 5s
INI
}

# write_ini BUDGET_BYTES [extra lines...]
write_ini() {
	budget=$1; shift
	cat >/run/agent.ini <<INI
[agent]
status_socket = /run/vtier/agent.sock
[budget]
dram = $budget
headroom = ${HEADROOM:-auto}
[sampler]
source = replay
replay = /run/samples.fifo
[heat]
pages = ${HEAT_PAGES:-262144}
${COOLING:+cooling = $COOLING}
[policy]
interval = ${INTERVAL:-250ms}
min_residence = ${MIN_RES:-2s}
[migrate]
backend = move_pages
rate = ${RATE:-128M}
INI
	for l in "$@"; do echo "$l" >>/run/agent.ini; done
}

start_agent() {
	# the kernel's own NUMA balancing would pull pages to the CPU node
	# behind the agent's back; an operator turns it off (the agent warns)
	echo 0 >/proc/sys/kernel/numa_balancing
	[ -p /run/samples.fifo ] || mkfifo /run/samples.fifo
	vtier-agent -c /run/agent.ini "$@" 2>>/run/agent.log &
	AGENT=$!
	i=0
	while [ ! -S /run/vtier/agent.sock ] && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -S /run/vtier/agent.sock ] || { cat /run/agent.log; return 1; }
}

stop_agent() {
	kill -TERM "$AGENT" 2>/dev/null
	wait "$AGENT" 2>/dev/null
}

# A line per second: time, fast used / budget, promoted, demoted, samples/s.
progress() {	# seconds
	s=0
	while [ $s -lt "$1" ]; do
		sleep 1; s=$((s + 1))
		echo "progress: t=${s}s fast_used=$(( $(status_num fast_used_bytes) / 1048576 ))MiB" \
			"budget=$(( $(status_num budget_bytes) / 1048576 ))MiB" \
			"promoted=$(status_num promoted_pages) demoted=$(status_num demoted_pages)" \
			"samples/s=$(status_num samples_per_s)"
	done
}

# Start tierload in the background: tierload ARGS...  (sets W)
run_tierload() {
	tierload -o /run/samples.fifo -n "${EVERY:-64}" -r 2000 "$@" \
		>/run/tierload.out 2>&1 &
	W=$!
}

# Watch the workload until it exits, sampling node 0's usage twice a
# second (maxused, node_used_settled against $budget) and printing a
# progress line every 2 s.  Calls the scenario's at_tick with the loop
# turns so far (half-seconds on an idle host) and node 0's usage just
# read.  Leaves tierload's status in wrc.
at_tick() { :; }
watch_workload() {
	maxused=0 n=0
	# /proc, not kill -0: busybox's kill -0 was seen failing on a live pid
	while [ -e /proc/$W ] && ! grep -q '^tierload: done' /run/tierload.out; do
		u=$(node_used_settled 0 "$budget")
		[ "$u" -gt $maxused ] && maxused=$u
		at_tick $n $u
		sleep 0.5
		n=$((n + 1))
		[ $((n % 4)) = 0 ] && echo "progress: t=$((n / 2))s node0_used=$((u / 1048576))MiB" \
			"budget=$(( $(status_num budget_bytes) / 1048576 ))MiB" \
			"hot_set=$(( $(status_num hot_set_bytes) / 1048576 ))MiB" \
			"promoted=$(status_num promoted_pages) demoted=$(status_num demoted_pages)" \
			"samples/s=$(status_num samples_per_s) regime=$(regime)"
	done
	wait $W; wrc=$?
	cat /run/tierload.out
}

# Final checks shared by the scenarios: data intact, hot set on fast.
# Scenarios in make check run tierload with -U, so the gate is where
# tiering ends, not how fast it gets there on a loaded host (the time
# the last phase was held is printed); bigcold, a measurement under load,
# does not.  The gate is the hot set as the last phase ends, while the
# workload still runs; tierload's "done" figure comes after it has
# re-read every page to check it, seconds without a sample on a loaded
# guest, in which the agent may rightly take idle pages off the fast
# node (restart beside a busy core: 100.0% at the end, 92.7% after the
# check).  Both are printed.
# tierload's hot set on fast, in percent: "end" as the last phase ended,
# "done" after its data check (empty if not printed).
tierload_hof() {	# end|done
	sed -n "s/.* $1 hot_on_fast=\([0-9.]*\)%.*/\1/p" /run/tierload.out | tail -n 1
}
check_workload() {	# min_hot_on_fast_percent
	hof=$(tierload_hof end)
	hof_after=$(tierload_hof done)
	[ -n "$hof" ] || hof=0
	held=$(sed -n 's/.* held \([0-9.]*\) s$/\1/p' /run/tierload.out)
	echo "scenario: hot_on_fast=$hof% as the last phase ended (${hof_after:-?}% after the data check) max node0 used $((maxused / 1048576)) MiB${held:+, last phase held $held s (tierload -U)}"
	note_transient
	grep -q 'data_ok=yes' /run/tierload.out && [ "$wrc" = 0 ] &&
		ok "data intact" || bad "data not intact (tierload exit $wrc)"
	awk "BEGIN { exit !($hof >= $1) }" && ok "hot pages on fast $hof% >= $1%" ||
		bad "hot pages on fast $hof% < $1%"
}

# Host memory behind a node (allocated bytes of its backing file on the
# host), from run-guest.sh's latest line, at most 0.5 s old; 0 if none
# came yet.  host_resident NODE
host_resident() {
	v=$(sed -n '/^host_resident ms=[0-9]* node0=[0-9]* node1=[0-9]*$/h; ${x;p}' \
		/run/host_resident 2>/dev/null | sed -n "s/.* node$1=\([0-9]*\).*/\1/p")
	echo "${v:-0}"
}
