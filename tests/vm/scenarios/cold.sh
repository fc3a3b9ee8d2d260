# cold.sh - cold memory first touched on the fast node and never sampled
# (what most of a VM's memory is) fills most of the budget: 16 MiB in the
# workload itself and 32 MiB in an idle process that is never sampled at
# all; the hot set starts on the slow node.  The agent must find and
# adopt the cold pages it has no samples for, in the idle process too,
# and demote them to make room: without adoption they count as unmanaged
# and the hot set stays where it is.
. /vtier/lib.sh
used0=$(node_used 0)
budget=$((used0 + 64 * 1048576))
write_ini $budget
start_agent || exit 1
echo "scenario: node0 used $((used0 / 1048576)) MiB, budget $((budget / 1048576)) MiB, 16 + 32 MiB cold on node 0"
tierload -f 1 -H 1 -C 32 -I -s 25 >/run/idle.out 2>&1 &
IDLE=$!
i=0
while ! grep -q '^tierload: pid' /run/idle.out && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
run_tierload -f 192 -H 32 -C 16 -s 20 -U 90:30
watch_workload
vtierctl -s /run/vtier/agent.sock status
check_workload 90
adopted=$(status_num adopted_pages)
echo "scenario: adopted $((adopted * 4 / 1024)) MiB"
# most of the 48 MiB of cold regions (the processes' other pages too)
[ "$adopted" -ge $((40 * 256)) ] && ok "cold pages adopted" ||
	bad "adopted only $adopted pages"
[ $maxused -le $budget ] && ok "node0 usage stayed within the budget" ||
	bad "node0 usage $maxused above the budget $budget"
kill $IDLE 2>/dev/null; wait $IDLE
grep -q 'data_ok=yes' /run/idle.out && ok "idle process data intact" ||
	bad "idle process data not intact"
grep -q 'budget .* unattainable' /run/agent.log && bad "agent claimed unattainable" ||
	ok "no false 'unattainable'"
stop_agent
tail -3 /run/agent.log
exit $fails
