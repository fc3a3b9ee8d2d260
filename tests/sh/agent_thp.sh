# agent_thp.sh - with the real migrator, samples that fall in THP-backed
# memory are tracked as one 2 MiB entry (pagemap + kpageflags), samples
# in 4 KiB memory as 4 KiB entries.  Runs on this host's one node.
set -eu
. "${SRC:-.}/tests/buildvars.sh"
if grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled; then
	echo "skip: THP disabled on this host"; exit 77
fi
T=$(mktemp -d /tmp/vtier-thp.XXXXXX)
pid="" w1="" w2=""
trap 'for p in $pid $w1 $w2; do kill -9 $p 2>/dev/null || true; done; rm -rf "$T"' EXIT
bmake "$BR/static/tierload" >/dev/null
mkfifo "$T/fifo"
cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[sampler]
source = replay
replay = $T/fifo
[heat]
thp = yes
[policy]
interval = 50ms
INI
"$B/vtier-agent" -c "$T/agent.ini" --dump-heat "$T/heat" 2>"$T/log" &
pid=$!
for i in $(seq 50); do [ -S "$T/agent.sock" ] && break; sleep 0.1; done
"$B/static/tierload" -T -f 32 -H 8 -s 4 -S 0 -o "$T/fifo" -n 64 -r 100000 >"$T/thp.out" &
w1=$!
"$B/static/tierload" -f 16 -H 4 -s 4 -S 0 -o "$T/fifo" -n 64 -r 100000 >"$T/4k.out" &
w2=$!
sleep 2.5
kill -TERM $pid; wait $pid; pid=""
kill $w1 $w2 2>/dev/null; wait $w1 $w2 2>/dev/null || true
w1="" w2=""
thp_pid=$(sed -n 's/^tierload: pid \([0-9]*\).*/\1/p' "$T/thp.out")
k4_pid=$(sed -n 's/^tierload: pid \([0-9]*\).*/\1/p' "$T/4k.out")
python3 - "$T/heat" "$thp_pid" "$k4_pid" <<'PY'
import sys
heat, thp_pid, k4_pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = {(thp_pid, "2M"): 0, (thp_pid, "4K"): 0, (k4_pid, "2M"): 0, (k4_pid, "4K"): 0}
for line in open(heat):
    pid, addr, node, count, size = line.split()
    k = (int(pid), size)
    if k in n:
        n[k] += 1
        if size == "2M":
            assert int(addr, 16) % (2 << 20) == 0, line
print("THP workload: %d 2M entries, %d 4K entries; 4K workload: %d 2M, %d 4K" %
      (n[(thp_pid, "2M")], n[(thp_pid, "4K")], n[(k4_pid, "2M")], n[(k4_pid, "4K")]))
assert n[(k4_pid, "2M")] == 0, "4 KiB memory tracked as THP"
assert n[(k4_pid, "4K")] > 1000, "4 KiB memory not tracked"
# 32 MiB of THP memory = 16 huge pages (a few may have fallen back to 4K)
assert 8 <= n[(thp_pid, "2M")] <= 17, "THP memory not tracked at 2 MiB"
assert n[(thp_pid, "4K")] < n[(thp_pid, "2M")] * 512 // 4, "too many 4K entries"
PY
