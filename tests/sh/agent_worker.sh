# agent_worker.sh - policy rounds run on the worker thread while the
# loop keeps reading samples.  backend = sim with each move_pages call
# taking 20 ms (sim_call_time) and 64 pages a call, so the first round
# (at 1 s: where are 4096 pages, then promote some 1800) takes about 2 s;
# a writer feeds the replay FIFO at 20000 samples/s without ever blocking
# (what it cannot write it reports in "# lost N" lines, as tierload
# does).  While that round runs: the status socket answers and the
# sample count keeps growing; a reload with a new budget cancels it at
# its next call and the next round plans for the new budget.  At the end
# every sample written is read or counted lost, and few are lost.  A
# SIGTERM during a long round ends the agent at its next call.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-worker.XXXXXX)
agent= py=
trap '[ -z "$agent" ] || kill -9 "$agent" 2>/dev/null
	[ -z "$py" ] || kill "$py" 2>/dev/null; rm -rf "$T"' EXIT
mkfifo "$T/fifo"
ini() {	# dram sim_call_time
	cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[budget]
dram = $1
headroom = 1M
[sampler]
source = replay
replay = $T/fifo
[policy]
interval = 1s
[migrate]
backend = sim
rate = 1G
pages_per_call = 64
sim_call_time = $2
INI
}
ini 8M 20ms
# The writer is up and waiting in a blocking open of the FIFO before the
# agent starts, so its samples come from the moment the agent opens the
# FIFO, and the agent's first round, 1 s after its start, finds the 4096
# pages however slowly python starts on a loaded machine (started after
# the agent, it did not beside another make check and an ASan one: the
# first round found few pages and the second was the long one).
python3 - "$T" "$B/vtierctl" <<'PY' &
import errno, json, os, signal, subprocess, sys, time
t, ctl = sys.argv[1], sys.argv[2]
signal.alarm(20)                # no agent to open the FIFO: fail, not hang
open(t + "/writer.ready", "w").close()
fd = os.open(t + "/fifo", os.O_WRONLY)      # until the agent opens it
os.set_blocking(fd, False)
while not os.path.exists(t + "/agent.pid"):
    time.sleep(0.01)
agent = int(open(t + "/agent.pid").read())
signal.alarm(0)
written = lost = pending = 0
base, page = 0x7f0000000000, 0

def status():
    return json.loads(subprocess.run([ctl, "-s", t + "/agent.sock", "status",
        "--json"], check=True, capture_output=True, text=True, timeout=5).stdout)

def put(n):
    """n samples over 4096 pages; a refused write's samples are lost."""
    global written, lost, pending, page
    while n > 0:
        k = min(n, 100)
        head = "# lost %d\n" % pending if pending else ""
        lines = "".join("%d 4242 0x%x\n" % (time.monotonic_ns(),
                        base + (((page + i) % 4096) << 12)) for i in range(k))
        page += k
        written += k
        n -= k
        try:
            os.write(fd, (head + lines).encode())   # < PIPE_BUF: whole or not
            pending = 0
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
            lost += k
            pending += k

def run(seconds, rate=20000):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        put(rate // 100)
        time.sleep(0.01)

run(1.3)                        # the first round starts at 1 s
s1 = status(); t1 = time.monotonic()
run(0.5)
s2 = status(); t2 = time.monotonic()
print("during the first round: samples %d -> %d in %.1f s, rounds started %d, "
      "queued at most %d" % (s1["samples"], s2["samples"], t2 - t1, s2["ticks"],
      s2["samples_queued_max"]))
assert s2["ticks"] == 1 and s2["round_last_ms"] == 0, "the round was not long"
assert s2["samples"] - s1["samples"] >= 5000, "samples not read during the round"
assert s2["samples_queued_max"] > 0

# a new budget while the round runs: cancelled at its next call
with open(t + "/agent.ini") as f:
    ini = f.read()
with open(t + "/agent.ini", "w") as f:
    f.write(ini.replace("dram = 8M", "dram = 6M"))
os.kill(agent, signal.SIGHUP)
t0 = time.monotonic()
while status()["rounds_cancelled"] < 1 and time.monotonic() - t0 < 5:
    put(200); time.sleep(0.01)
s3 = status()
print("reload with dram = 6M: rounds cancelled %d after %.2f s, budget %d"
      % (s3["rounds_cancelled"], time.monotonic() - t0, s3["budget_bytes"]))
assert s3["rounds_cancelled"] >= 1, "the round was not cancelled"
assert s3["budget_bytes"] == 6 << 20

run(4.0)
os.close(fd)
time.sleep(1.0)
s4 = status()
print("written %d, read %d, lost %d (%.2f%%), queued at most %d, "
      "longest round %d ms, promoted %d pages, fast %d of 6 MiB"
      % (written, s4["samples"], s4["lost_samples"],
         100.0 * s4["lost_samples"] / written, s4["samples_queued_max"],
         s4["round_max_ms"], s4["promoted_pages"], s4["fast_used_bytes"] >> 20))
assert s4["lost_samples"] == lost
assert s4["samples"] + s4["lost_samples"] == written, "samples unaccounted for"
assert s4["lost_samples"] <= written // 20, "more than 5% lost"
assert s4["promoted_pages"] > 0
assert s4["fast_used_bytes"] <= 6 << 20, "over the new budget"
PY
py=$!
for i in $(seq 200); do [ -e "$T/writer.ready" ] && break; sleep 0.05; done
"$B/vtier-agent" -c "$T/agent.ini" --sysfs "$SRC/tests/fixtures/topo-2node" \
	-d 2>"$T/agent.log" &
agent=$!
echo "$agent" >"$T/agent.pid.new" && mv "$T/agent.pid.new" "$T/agent.pid"
wait "$py" || { py=; cat "$T/agent.log"; exit 1; }
py=

# SIGTERM during a long round: dram 3M means some 800 demotions, 200 ms a
# call of 64: 2.6 s of calls from the next tick; stopped at its next call.
ini 3M 200ms
kill -HUP "$agent"
sleep 1.5
start=$(date +%s%N)
kill -TERM "$agent"
wait "$agent" || { cat "$T/agent.log"; exit 1; }
agent=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "SIGTERM during a round: exited after $ms ms"
grep -q 'round cancelled\|signal 15: exiting' "$T/agent.log"
[ "$ms" -lt 1000 ] || { cat "$T/agent.log"; echo "took longer than one call"; exit 1; }
