# shrink.sh - the budget shrinks while the workload runs (SIGHUP with a
# smaller [budget] dram; with the host shim, a BUDGET message): fast-node
# usage must come down to the new budget and stay there.
. /vtier/lib.sh
used0=$(node_used 0)
big=$((used0 + 96 * 1048576))
small=$((used0 + 40 * 1048576))
write_ini $big
start_agent || exit 1
echo "scenario: node0 used $((used0 / 1048576)) MiB, budget $((big / 1048576)) MiB, shrinking to $((small / 1048576)) MiB once usage is above it"
run_tierload -f 256 -H 64 -s 40
# The shrink comes when usage is above the new budget (not at a fixed
# time: a starved guest promotes late), then usage must come down to the
# new budget and stay there.  Times are wall-clock; the gates are not.
t0=$(date +%s) shrunk=0 down=0 maxafter=0
at_tick() {
	u=$2 t=$(( $(date +%s) - t0 ))
	if [ $shrunk = 0 ]; then
		[ $u -gt $((small + 8 * 1048576)) ] || [ $t -ge 28 ] || return 0
		echo "scenario: t=${t}s node0 used $((u / 1048576)) MiB; shrinking the budget"
		write_ini $small
		kill -HUP $AGENT
		shrunk=$t
	elif [ $down = 0 ]; then
		[ $u -le $small ] || return 0
		down=$((t + 1))
		echo "scenario: t=${t}s node0 used $((u / 1048576)) MiB: down to the new budget $((t - shrunk)) s after the shrink"
	else
		[ $u -gt $maxafter ] && maxafter=$u
		# what else node 0 held then (free blocks being reported to
		# the host are off the free lists, counted as used meanwhile:
		# vm_agent.sh runs this without the balloon device)
		[ $u -le $small ] || echo "scenario: t=${t}s node0 used" \
			"$((u / 1048576)) MiB, over the new budget; agent saw" \
			"$(( $(status_num fast_used_bytes) / 1048576 )) MiB;" \
			"$(awk '/AnonPages|FilePages|Slab:|PageTables|KernelStack/ { printf "%s %d ", $3, $4 / 1024 }' "$N/node0/meminfo")MiB"
	fi
}
watch_workload
vtierctl -s /run/vtier/agent.sock status
check_workload 0
echo "scenario: once down, node0 used at most $((maxafter / 1048576)) MiB (budget $((small / 1048576)) MiB)"
[ $maxused -gt $small ] && ok "usage was above the new budget before the shrink" ||
	bad "shrink test is vacuous: usage never exceeded the new budget"
[ $down != 0 ] && [ $maxafter -le $small ] && ok "usage came down to the new budget and stayed there" ||
	bad "usage not down to $small after the shrink (down at ${down}s, at most $maxafter after)"
grep -q 'budget .* unattainable' /run/agent.log && bad "agent claimed unattainable" ||
	ok "no false 'unattainable'"
# a budget below what the kernel alone holds on node 0: unattainable, and
# the warning says what it counted
write_ini $((used0 / 4))
kill -HUP $AGENT
i=0
# (the agent says it once plans have said so for 5 s)
while ! grep -q 'budget .* unattainable' /run/agent.log && [ $i -lt 300 ]; do
	sleep 0.1; i=$((i + 1))
done
grep 'budget .* unattainable' /run/agent.log | sed 's/^/scenario: agent: /'
grep -q 'unattainable for [0-9]* s: the fast nodes use .* pages the agent tracks .* managed processes' \
	/run/agent.log && ok "a budget below the kernel's own use is unattainable, and says why" ||
	bad "no (or a bare) unattainable warning for a budget of $((used0 / 4 / 1048576)) MiB"
stop_agent
tail -3 /run/agent.log
exit $fails
