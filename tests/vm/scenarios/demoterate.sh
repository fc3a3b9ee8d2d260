# demoterate.sh - how fast the agent demotes a cold region while its
# owner runs or is stopped, and what the guest kernel's TLB shootdowns
# cost (not in make check: a measurement).  The bigcold workload (240 MiB
# first touched on node 0, 16 MiB hot, budget = node 0's use + 48 MiB);
# after 5 s, with STOPW=1, the workload is SIGSTOPped; then 15 s of the
# agent's demotion are counted, with the TLB shootdowns and function-call
# IPIs of /proc/interrupts meanwhile.  Prints
#   scenario: workload stopped=S: demoted M MiB (P pages) in 15 s; TLB
#   shootdowns N, function call IPIs C; node0 U MiB
# Run: tests/vm/run-guest.sh [-B DIR] -e STOPW=1 tests/vm/scenarios/demoterate.sh \
#      build/static/vtier-agent build/static/vtierctl build/static/tierload \
#      tests/vm/scenarios/lib.sh   (with a host busy loop to see the cost;
#      VTIER_KERNEL=stable and -B build/guest-stable for Debian 12's 6.1,
#      whose page-by-page TLB flushes are what it shows)
. /vtier/lib.sh
used0=$(node_used 0)
budget=$((used0 + 48 * 1048576))
write_ini $budget
start_agent || exit 1
run_tierload -f 64 -H 16 -C 240 -s 40
sleep 5
[ "${STOPW:-0}" = 1 ] && kill -STOP $W
d0=$(status_num demoted_pages); i0=$(awk '/TLB/ { print $2 + $3 }' /proc/interrupts)
c0=$(awk '/CAL/ { print $2 + $3 }' /proc/interrupts)
sleep 15
d1=$(status_num demoted_pages); i1=$(awk '/TLB/ { print $2 + $3 }' /proc/interrupts)
c1=$(awk '/CAL/ { print $2 + $3 }' /proc/interrupts)
echo "scenario: workload stopped=${STOPW:-0}: demoted $(( (d1 - d0) / 256 )) MiB ($((d1 - d0)) pages) in 15 s; TLB shootdowns $((i1 - i0)), function call IPIs $((c1 - c0)); node0 $(( $(node_used 0) / 1048576 )) MiB"
kill -CONT $W; kill $W
stop_agent
exit 0
