# cold.sh - cold memory first touched on the fast node and never sampled
# (what most of a VM's memory is) fills most of the budget; the hot set
# starts on the slow node.  The agent must adopt the cold pages it has no
# samples for and demote them to make room: without adoption they count
# as unmanaged and the hot set stays where it is.
. /vtier/lib.sh
used0=$(node_used 0)
budget=$((used0 + 64 * 1048576))
write_ini $budget
start_agent || exit 1
echo "scenario: node0 used $((used0 / 1048576)) MiB, budget $((budget / 1048576)) MiB, 48 MiB cold on node 0"
run_tierload -f 192 -H 32 -C 48 -s 20
watch_workload
vtierctl -s /run/vtier/agent.sock status
check_workload 90
adopted=$(status_num adopted_pages)
echo "scenario: adopted $((adopted * 4 / 1024)) MiB"
# most of the 48 MiB cold region (the rest of the process's pages too)
[ "$adopted" -ge $((40 * 256)) ] && ok "cold pages adopted" ||
	bad "adopted only $adopted pages"
[ $maxused -le $budget ] && ok "node0 usage stayed within the budget" ||
	bad "node0 usage $maxused above the budget $budget"
stop_agent
tail -3 /run/agent.log
exit $fails
