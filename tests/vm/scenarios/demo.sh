# demo.sh - the demo, in the guest: tierload (256 MiB first-touched on the
# memory-only node 1, a 32 MiB hot set that moves once) under the agent,
# whose DRAM budget comes from the host shim over virtio-serial (and is
# changed live on the host with vtierctl); a line per second, with the
# host memory behind node 0 beside its use and budget, then exactly one
# summary line.
. /vtier/lib.sh
used0=$(node_used 0)
write_ini auto "[shim]" "transport = serial" "address = vtier.ctl" \
	"stats_interval = 1s"
start_agent || exit 1
echo "demo: guest nodes: node0 cpus $(cat $N/node0/cpulist) $(( $(awk '/MemTotal/ {print $4}' $N/node0/meminfo) / 1024 )) MiB (DRAM), node1 no cpus $(( $(awk '/MemTotal/ {print $4}' $N/node1/meminfo) / 1024 )) MiB (CXL stand-in); node 0 used $((used0 / 1048576)) MiB before the workload"
echo "demo: sampler = replay fed by the workload (PMU stand-in), migrator = move_pages, budget from the host shim"
echo "demo: free page reporting $(status_str free_page_reporting) (order $(status_str reporting_order)): host_fast is the host memory behind node 0 (its backing file's allocated blocks), $(( $(host_resident 0) / 1048576 )) MiB now, of which $(( ($(ls -d $N/node0/memory[0-9]* | wc -l) * 0x$(cat /sys/devices/system/memory/block_size_bytes) - $(awk '/MemTotal/ {print $4}' $N/node0/meminfo) * 1024) / 1048576 )) MiB the guest kernel reserved at boot"
i=0
while [ "$(status_num budget_bytes)" -gt $((1 << 40)) ] || ! vtierctl -s /run/vtier/agent.sock status --json | grep -q '"budget_source": "shim"'; do
	sleep 0.2; i=$((i + 1)); [ $i -lt 100 ] || break
done
budget=$(status_num budget_bytes)
echo "demo: budget $((budget / 1048576)) MiB from the host shim ($(vtierctl -s /run/vtier/agent.sock status --json | sed -n 's/.*"shim_vm": "\(.*\)".*/VM \1/p'))"
tierload -o /run/samples.fifo -n 64 -r 1000 -f 256 -H 32 -P 2 -s 20 \
	>/run/tierload.out 2>&1 &
W=$!
t=0 maxused=0 changed=0 h0=$(host_resident 0)
while [ -e /proc/$W ] && ! grep -q '^tierload: done' /run/tierload.out; do
	sleep 1; t=$((t + 1))
	u=$(node_used_settled 0 "$budget")
	b=$(status_num budget_bytes)
	if [ "$b" != "$budget" ]; then
		echo "demo: t=${t}s budget changed by the host: $((budget / 1048576)) -> $((b / 1048576)) MiB"
		budget=$b changed=$t maxused=0
	fi
	# usage counts against the budget in force once the agent had 5 s
	[ $t -ge $((changed + 5)) ] && [ "$u" -gt $maxused ] && maxused=$u
	hof=$(sed -n 's/.*hot_on_fast=\([0-9.]*\)%.*/\1/p' /run/tierload.out | tail -n 1)
	# the host memory behind node 0 (its backing file, from the host)
	h0=$(host_resident 0)
	printf 'demo: t=%3ds fast_used=%3d/%d MiB host_fast=%3d MiB hot_on_fast=%5s%% promoted=%s demoted=%s samples/s=%s regime=%s\n' \
		$t $((u / 1048576)) $((budget / 1048576)) $((h0 / 1048576)) "${hof:-0}" \
		"$(status_num promoted_pages)" "$(status_num demoted_pages)" \
		"$(status_num samples_per_s)" "$(regime)"
done
wait $W; wrc=$?
grep -E 'phase .* end|first touch' /run/tierload.out | sed 's/^/demo: /'
written=$(sed -n 's/.*done .* samples=\([0-9]*\) .*/\1/p' /run/tierload.out)
echo "demo: samples written ${written:-0}, read by the agent $(status_num samples), lost $(status_num lost_samples) (the FIFO was full); policy rounds $(status_num ticks), longest $(status_num round_max_ms) ms; sampler read at $(status_num sampler_holds) ticks"
note_transient | sed 's/^scenario:/demo:/'
stop_agent
# the hot set as the last phase ended (check_workload in lib.sh says why)
hof=$(tierload_hof end)
echo "demo: hot_on_fast after the data check $(tierload_hof done)% (the workload idle while it re-read every page)"
data=no
grep -q 'data_ok=yes' /run/tierload.out && [ $wrc = 0 ] && data=yes
printf 'demo: hot_on_fast=%.1f%% fast_used=%d MiB budget=%d MiB host_fast=%d MiB data_ok=%s\n' \
	"${hof:-0}" $((maxused / 1048576)) $((budget / 1048576)) \
	$((h0 / 1048576)) $data
awk "BEGIN { exit !(${hof:-0} >= 95) }" && [ $maxused -le $budget ] && [ $data = yes ]
