# shrink.sh - the budget shrinks while the workload runs (SIGHUP with a
# smaller [budget] dram; with the host shim, a BUDGET message): fast-node
# usage must come down to the new budget and stay there.
. /vtier/lib.sh
used0=$(node_used 0)
big=$((used0 + 96 * 1048576))
small=$((used0 + 40 * 1048576))
write_ini $big
start_agent || exit 1
echo "scenario: node0 used $((used0 / 1048576)) MiB, budget $((big / 1048576)) MiB, shrinking to $((small / 1048576)) MiB at t=10s"
run_tierload -f 256 -H 64 -s 24
at_tick() {
	if [ "$1" = 20 ]; then
		echo "scenario: t=10s node0 used $(( $(node_used 0) / 1048576 )) MiB; shrinking the budget"
		write_ini $small
		kill -HUP $AGENT
	fi
}
AFTER_T=18 watch_workload
vtierctl -s /run/vtier/agent.sock status
check_workload 0
echo "scenario: after t=18s node0 used at most $((maxused_after / 1048576)) MiB (budget $((small / 1048576)) MiB)"
[ $maxused -gt $small ] && ok "usage was above the new budget before the shrink" ||
	bad "shrink test is vacuous: usage never exceeded the new budget"
[ $maxused_after -le $small ] && ok "usage came down to the new budget" ||
	bad "usage $maxused_after still above $small after the shrink"
grep -q 'budget .* unattainable' /run/agent.log && bad "agent claimed unattainable" ||
	ok "no false 'unattainable'"
# a budget below what the kernel alone holds on node 0: unattainable, and
# the warning says what it counted
write_ini $((used0 / 4))
kill -HUP $AGENT
i=0
while ! grep -q 'budget .* unattainable' /run/agent.log && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
grep 'budget .* unattainable' /run/agent.log | sed 's/^/scenario: agent: /'
grep -q 'unattainable: the fast nodes use .* pages the agent tracks .* managed processes' \
	/run/agent.log && ok "a budget below the kernel's own use is unattainable, and says why" ||
	bad "no (or a bare) unattainable warning for a budget of $((used0 / 4 / 1048576)) MiB"
stop_agent
tail -3 /run/agent.log
exit $fails
