# promote.sh - tierload first-touches its footprint on the slow node and
# hammers a hot set; the agent (replay sampler fed by the workload, real
# move_pages) must bring >= 95% of the hot pages to the fast node while
# the fast node's usage stays within the budget.  Also runs a second,
# short-lived workload that exits while its pages are being migrated.
. /vtier/lib.sh
used0=$(node_used 0)
budget=$((used0 + 64 * 1048576))
write_ini $budget
start_agent || exit 1
echo "scenario: node0 used $((used0 / 1048576)) MiB at start, budget $((budget / 1048576)) MiB"
run_tierload -f 256 -H 32 -s 20 -U 95:30
# the short-lived one: its exit lands in the middle of migrations
tierload -f 48 -H 16 -s 3 -o /run/samples.fifo -n 16 -r 10000 >/run/short.out 2>&1 &
S=$!
watch_workload
wait $S; src=$?
vtierctl -s /run/vtier/agent.sock status
check_workload 95
[ $maxused -le $budget ] && ok "fast usage within budget ($((maxused / 1048576)) <= $((budget / 1048576)) MiB)" ||
	bad "fast usage $maxused > budget $budget"
[ $src = 0 ] && ok "short-lived workload ran and exited" || bad "short workload exit $src"
kill -0 $AGENT && ok "agent survived a workload exiting mid-migration" || bad "agent died"
stop_agent
tail -3 /run/agent.log
exit $fails
