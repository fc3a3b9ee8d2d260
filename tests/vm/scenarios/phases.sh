# phases.sh - the hot set moves: after phase 0, a disjoint hot set takes
# over; the new one must replace the old one on the fast node.
. /vtier/lib.sh
used0=$(node_used 0)
budget=$((used0 + 64 * 1048576))
write_ini $budget
start_agent || exit 1
run_tierload -f 256 -H 32 -P 2 -s 14 -U 95:30
watch_workload
vtierctl -s /run/vtier/agent.sock status
grep 'phase 0 end' /run/tierload.out
check_workload 95
[ $maxused -le $budget ] && ok "fast usage within budget" || bad "fast usage $maxused > $budget"
stop_agent
exit $fails
