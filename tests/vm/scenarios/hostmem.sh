# hostmem.sh - does the budget free host DRAM?  A freshly started
# service: 240 MiB first touched on node 0 and never used again, a 16 MiB
# hot set on node 1, a budget of node 0's use before it + BUDGET_MIB (48
# MiB: the issue 16 scenario).  Once a second it prints the guest's use of node 0
# and the host memory behind each node (allocated bytes of its backing
# file, from run-guest.sh):
#   hostres: t=S node0_used=U budget=B host0=H0 host1=H1 (MiB) headroom=K
#   creep_peak=C (the agent's, KiB: headroom = auto follows the creep)
# and checks, when the guest has free page reporting, that within 20 s of
# the agent first being within its budget the host memory behind node 0
# is at most budget + 25% (beyond what the guest kernel reserved at boot,
# which no budget counts: node 0's size less its MemTotal) while the
# workload still runs; with SHRINK_AT=S it lowers the budget (SIGHUP) to
# SHRINK_MIB more than node 0's use before the workload at t=S, and checks
# the same 20 s after that.  Data checked as everywhere.
#
# Knobs (run-guest.sh -e): BUDGET_MIB (default 48), VACATE, COMPACT
# (yes|no: the agent's [migrate] keys), ORDER (page_reporting_order to
# set first), SECONDS_RUN (the workload's, default 90), SHRINK_AT,
# SHRINK_MIB (default 48), SHIM=1 (the budget comes from the host shim
# over virtio-serial, the host lowers it: tests/sh/vm_hostmem.sh),
# GATE=0 (figures only), HOT_MIN (hot set on node 0 at the end, %, 90).
. /vtier/lib.sh
MiB=1048576
used0=$(node_used 0)
# what the guest kernel reserved at boot: the node's memory blocks less
# its MemTotal (always resident on the host, never counted as used)
bs=$((0x$(cat /sys/devices/system/memory/block_size_bytes)))
nblk=$(ls -d $N/node0/memory[0-9]* | wc -l)
total0=$(awk '/MemTotal:/ { print $4 * 1024 }' $N/node0/meminfo)
reserved=$((nblk * bs - total0))
if [ -n "${ORDER:-}" ]; then
	echo "$ORDER" >/sys/module/page_reporting/parameters/page_reporting_order
fi
extra="vacate = ${VACATE:-yes}
compact = ${COMPACT:-yes}"
if [ "${SHIM:-0}" = 1 ]; then
	write_ini auto "$extra" "[shim]" "transport = serial" \
		"address = vtier.ctl" "stats_interval = 1s"
else
	write_ini $((used0 + ${BUDGET_MIB:-48} * MiB)) "$extra"
fi
start_agent || exit 1
i=0
while { [ "${SHIM:-0}" = 1 ] && [ "$(status_str budget_source)" != shim ]; } &&
    [ $i -lt 150 ]; do
	sleep 0.2; i=$((i + 1))
done
budget=$(status_num budget_bytes)
echo "scenario: node0 used $((used0 / MiB)) MiB, reserved by the kernel $((reserved / MiB)) MiB, budget $((budget / MiB)) MiB ($(status_str budget_source)); free_page_reporting=$(status_str free_page_reporting) order=$(status_str reporting_order) vacate=${VACATE:-yes} compact=${COMPACT:-yes}; 240 MiB cold on node 0, 16 MiB hot on node 1"
echo "scenario: host behind node 0 before the workload: $(( $(host_resident 0) / MiB )) MiB"

over=0		# node 0 has been over the budget
t_in=-1		# when node 0 was first within the budget after that (s)
t_ref=-1	# the gate's reference: t_in, or the shrink's end
worst=0		# the most host memory behind node 0 from t_ref + 20 s on
shrunk=0
hostres_line() {
	u=$(node_used 0)
	h0=$(host_resident 0)
	echo "hostres: t=$1 node0_used=$((u / MiB)) budget=$((budget / MiB)) host0=$((h0 / MiB)) host1=$(( $(host_resident 1) / MiB )) headroom=$(( $(status_num headroom_bytes) / 1024 ))K creep_peak=$(( $(status_num creep_peak_bytes) / 1024 ))K"
}
# seconds since the workload started, by the clock (a loop turn under
# TCG on a busy host takes longer than its 0.5 s sleep)
secs() { awk -v t0="$T0" '{ printf "%d\n", $1 - t0 }' /proc/uptime; }
last=-1
at_tick() {
	s=$(secs)
	[ "$s" != "$last" ] || return 0
	last=$s
	b=$(status_num budget_bytes)
	if [ "$b" != "$budget" ]; then
		echo "scenario: t=${s}s budget $((budget / MiB)) -> $((b / MiB)) MiB"
		# a shrink: over the new budget when it came, within it once
		# node 0's use is at or below it
		budget=$b over=1 t_in=-1 t_ref=-1 worst=0 shrunk=1
	fi
	if [ -n "${SHRINK_AT:-}" ] && [ "$s" -ge "$SHRINK_AT" ] &&
	    [ "${shrink_sent:-0}" = 0 ]; then
		shrink_sent=1
		# (write_ini sets $budget: the status says when it took)
		b=$budget
		write_ini $((used0 + ${SHRINK_MIB:-48} * MiB)) "$extra"
		budget=$b
		kill -HUP $AGENT
	fi
	hostres_line $s
	[ "$u" -gt "$budget" ] && over=1
	[ $over = 1 ] && [ $t_in -lt 0 ] && [ "$u" -le "$budget" ] &&
		t_in=$s t_ref=$s &&
		echo "scenario: t=${s}s node 0 within the budget"
	[ $t_ref -ge 0 ] && [ $s -ge $((t_ref + 20)) ] && [ "$h0" -gt $worst ] &&
		worst=$h0
	return 0
}
T0=$(cut -d' ' -f1 /proc/uptime)
run_tierload -f 64 -H 16 -C 240 -s "${SECONDS_RUN:-90}"
watch_workload
t_end=$(secs)
echo "scenario: workload ended at t=${t_end}s"
while [ "$(secs)" -lt $((t_end + 10)) ]; do
	sleep 1
	hostres_line "$(secs)"
done
after=$h0
vtierctl -s /run/vtier/agent.sock status
check_workload "${HOT_MIN:-90}"
limit=$((reserved + budget + budget / 4))
gate=": within budget at t=${t_in}s, host behind node 0 from t=$((t_ref + 20))s on at most $((worst / MiB)) MiB, limit $((limit / MiB)) MiB (reserved $((reserved / MiB)) + budget $((budget / MiB)) + 25%); 10 s after the exit $((after / MiB)) MiB"
echo "scenario: vacated $(( $(status_num vacated_pages) / 256 )) MiB, compactions $(status_num compactions) ($(status_num compact_ms) ms), free in pieces too small to report $(( $(status_num unreportable_free_bytes) / MiB )) MiB"
if [ "$(status_str free_page_reporting)" != yes ]; then
	grep -q 'free page reporting: none' /run/agent.log &&
		ok "no balloon: said in status and log$gate" ||
		bad "no balloon, and the log does not say so"
elif [ "${GATE:-1}" = 0 ]; then
	echo "scenario: figures$gate"
elif [ $t_ref -lt 0 ] || [ $t_end -lt $((t_ref + 20)) ]; then
	bad "vacuous: never within budget, or the workload ended before t_ref + 20 s$gate"
elif [ $worst -le $limit ]; then
	ok "host memory follows the budget$gate"
else
	bad "host memory behind node 0 above budget + 25%$gate"
fi
if [ -n "${SHRINK_AT:-}" ] || [ "${SHIM:-0}" = 1 ]; then
	[ $shrunk = 1 ] && ok "the budget shrank while the workload ran" ||
		bad "the budget never shrank"
fi
stop_agent
grep -E 'free page reporting|vacate|compact' /run/agent.log | sed 's/^/scenario: agent: /'
exit $fails
