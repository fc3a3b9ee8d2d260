# restart.sh - the agent is SIGKILLed mid-run and started again: the
# stale status socket is replaced, no page of the workload is lost or
# corrupted, and tiering resumes (the hot set ends on the fast node).
. /vtier/lib.sh
used0=$(node_used 0)
budget=$((used0 + 64 * 1048576))
write_ini $budget
start_agent || exit 1
run_tierload -f 256 -H 32 -P 2 -s 12 -U 95:30
at_tick() {
	case $1 in
	14)	echo "scenario: t=7s SIGKILL to the agent"
		kill -KILL $AGENT; wait $AGENT 2>/dev/null ;;
	18)	echo "scenario: t=9s starting the agent again"
		start_agent || bad "agent did not restart" ;;
	esac
}
watch_workload
vtierctl -s /run/vtier/agent.sock status
check_workload 95
kill -0 $AGENT && ok "restarted agent running" || bad "restarted agent not running"
stop_agent
exit $fails
