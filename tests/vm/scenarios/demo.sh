# demo.sh - the demo, in the guest: tierload (256 MiB first-touched on the
# memory-only node 1, a 32 MiB hot set that moves once) under the agent
# with a DRAM budget; a line per second, then exactly one summary line.
. /vtier/lib.sh
used0=$(node_used 0)
budget=$((used0 + ${DEMO_EXTRA_MIB:-64} * 1048576))
write_ini $budget
start_agent || exit 1
echo "demo: guest nodes: node0 $(cat $N/node0/cpulist | sed 's/^/cpus /') $(( $(awk '/MemTotal/ {print $4}' $N/node0/meminfo) / 1024 )) MiB (DRAM), node1 no cpus $(( $(awk '/MemTotal/ {print $4}' $N/node1/meminfo) / 1024 )) MiB (CXL stand-in)"
echo "demo: budget $((budget / 1048576)) MiB of node 0 (node 0 used $((used0 / 1048576)) MiB before the workload); sampler = replay fed by the workload (PMU stand-in), migrator = move_pages"
tierload -o /run/samples.fifo -n 64 -r 1000 -f 256 -H 32 -P 2 -s 20 \
	>/run/tierload.out 2>&1 &
W=$!
t=0 maxused=0
while kill -0 $W 2>/dev/null; do
	sleep 1; t=$((t + 1))
	u=$(node_used 0)
	[ "$u" -gt $maxused ] && maxused=$u
	hof=$(sed -n 's/.*hot_on_fast=\([0-9.]*\)%.*/\1/p' /run/tierload.out | tail -n 1)
	printf 'demo: t=%3ds fast_used=%3d/%d MiB hot_on_fast=%5s%% promoted=%s demoted=%s samples/s=%s\n' \
		$t $((u / 1048576)) $((budget / 1048576)) "${hof:-0}" \
		"$(status_num promoted_pages)" "$(status_num demoted_pages)" \
		"$(status_num samples_per_s)"
done
wait $W; wrc=$?
grep -E 'phase .* end|first touch' /run/tierload.out | sed 's/^/demo: /'
stop_agent
hof=$(sed -n 's/.*done hot_on_fast=\([0-9.]*\)%.*/\1/p' /run/tierload.out)
data=no
grep -q 'data_ok=yes' /run/tierload.out && [ $wrc = 0 ] && data=yes
printf 'demo: hot_on_fast=%.1f%% fast_used=%d MiB budget=%d MiB data_ok=%s\n' \
	"${hof:-0}" $((maxused / 1048576)) $((budget / 1048576)) $data
awk "BEGIN { exit !(${hof:-0} >= 95) }" && [ $maxused -le $budget ] && [ $data = yes ]
