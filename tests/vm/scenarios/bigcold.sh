# bigcold.sh - a freshly started service: 240 MiB first touched on node 0
# and never used again (cold, never sampled), a 16 MiB hot set that starts
# on node 1, and a budget of what node 0 used before it plus 48 MiB.  The
# agent must adopt and demote the cold region while it keeps reading the
# workload's samples and promotes the hot set.  Prints, at the end,
#   scenario: samples written W read R (P%) lost L rounds N in T s
# and checks: hot set >= 95% on node 0, the cold region off it, data
# intact.  Figures, not gates, for the samples read and the rounds: under
# load (make stress) they are what is measured.
. /vtier/lib.sh
used0=$(node_used 0)
budget=$((used0 + 48 * 1048576))
write_ini $budget
start_agent || exit 1
echo "scenario: node0 used $((used0 / 1048576)) MiB, budget $((budget / 1048576)) MiB, 240 MiB cold on node 0, 16 MiB hot on node 1"
t0=$(date +%s)
run_tierload -f 64 -H 16 -C 240 -s ${PHASE_S:-25}
watch_workload
t1=$(date +%s)
vtierctl -s /run/vtier/agent.sock status
written=$(sed -n 's/.*done .* samples=\([0-9]*\) .*/\1/p' /run/tierload.out)
read=$(status_num samples)
lost=$(status_num lost_samples)
rounds=$(status_num ticks)
cold=$(sed -n 's/.*cold on fast at the end \([0-9.]*\)%.*/\1/p' /run/tierload.out)
echo "scenario: samples written ${written:-0} read $read ($(awk "BEGIN { printf \"%.1f\", ${written:-0} ? 100 * $read / ${written:-1} : 0 }")%) lost ${lost:-0} rounds $rounds in $((t1 - t0)) s cold_on_fast=${cold:-?}%"
echo "scenario: rounds: longest $(status_num round_max_ms) ms, cancelled $(status_num rounds_cancelled), cut at 1 s $(status_num rounds_cut); samples queued during a round at most $(status_num samples_queued_max), sampler paused $(status_num sampler_pauses) times; adopted $(( $(status_num adopted_pages) / 256 )) MiB, demoted $(( $(status_num demoted_pages) / 256 )) MiB, promoted $(( $(status_num promoted_pages) / 256 )) MiB; compactions $(status_num compactions) ($(status_num compact_ms) ms), vacated $(( $(status_num vacated_pages) / 256 )) MiB"
check_workload 95
awk "BEGIN { exit !(${cold:-100} <= 5) }" && ok "cold region off node 0 (${cold}% left)" ||
	bad "cold region ${cold:-?}% still on node 0"
grep -q 'budget .* unattainable' /run/agent.log && bad "agent claimed unattainable" ||
	ok "no false 'unattainable' (while adoption may still find pages)"
stop_agent
tail -5 /run/agent.log
exit $fails
