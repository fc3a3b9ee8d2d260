# agent_pace.sh - over its CPU budget (1% of a CPU) the agent reads its
# sampler less often than the sampler wakes it, and loses nothing for it
# (pace.h; vtier-agent(8), CPU budget).  Replay from a FIFO, backend =
# sim, a 300-page table (early rounds possible: the agent would read at
# every wake-up), the writer at 100000 samples/s in writes of 64 lines:
# ingesting that alone is several times the budget.  Every sample
# written is read or counted lost, none lost; the status shows the
# spacing and the reads put off, the log the change.  The budget is
# [sampler] cpu_budget: first 100%, under which the reads are never
# spaced, then 1% by a SIGHUP reload.
set -eu
: "${B:=build}" "${SRC:=.}"
. "$SRC/tests/sh/lib/fifo_agent.sh"
fifo_agent pace "[sampler]
cpu_budget = 100%"

python3 - "$T" "$B/vtierctl" "$SRC" "$agent" <<'PY' || { cat "$T/agent.log"; exit 1; }
import os, random, signal, sys, threading, time
sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, sys.argv[3] + "/tests/sh/lib")
from fifo_feed import Agent
a = Agent(sys.argv[1], sys.argv[2])
rng = random.Random(11)
addrs = ["0x%x\n" % (0x7f0000000000 + ((rng.randrange(32) if rng.random() < 0.9
         else rng.randrange(300)) << 12)) for _ in range(64 * 512)]
a.wait_status()
rate, k = 100000, 0

def feed(secs):
    """Write at rate for secs; the longest spacing seen, in ms, and the
    writer's longest lag behind its schedule.  The status is polled by a
    thread of its own: a poll (a vtierctl run, 60-75 ms under ASan)
    in the writing loop stalled the writer, which then wrote the time
    lost in one burst at ten times the rate, more than the FIFO holds
    between two of the agent's reads at the ticks (tests/run.sh, ASan:
    4 runs of 5 lost samples).  For the same reason the schedule starts
    at each call, not before the reload's wait."""
    global k
    spaced, err, lag, end = [0.0], [], 0.0, time.monotonic() + secs
    done = threading.Event()

    def poll():
        try:
            while not done.wait(0.5):
                spaced[0] = max(spaced[0], float(
                    a.status()["sampler_read_space_seconds"]) * 1000)
        except Exception as e:	# raised again in the writer's thread
            err.append(e)
    t = threading.Thread(target=poll)
    t.start()
    nxt = time.monotonic()
    while time.monotonic() < end:
        pre = "%d 4242 " % time.monotonic_ns()
        a.write([pre + x for x in addrs[(k % 512) * 64:(k % 512 + 1) * 64]])
        k += 1
        nxt += 64.0 / rate
        lag = max(lag, time.monotonic() - nxt)
        time.sleep(max(0.0, nxt - time.monotonic()))
    done.set()
    t.join()
    if err:
        raise err[0]
    return spaced[0], lag * 1000

assert float(a.status()["cpu_budget"]) == 1.0, a.status()["cpu_budget"]
spaced, lag = feed(2.5)
s = a.status()
print("cpu_budget = 100%%: spacing at most %.1f ms, reads put off %d, "
      "writer at most %.1f ms late" % (spaced, s["sampler_waits"], lag))
assert spaced == 0 and s["sampler_waits"] == 0, "spaced within its budget"
ini = os.path.join(sys.argv[1], "agent.ini")
with open(ini) as f:
    text = f.read()
with open(ini, "w") as f:
    f.write(text.replace("cpu_budget = 100%", "cpu_budget = 1%"))
os.kill(int(sys.argv[4]), signal.SIGHUP)
t0 = time.monotonic()
while float(a.status()["cpu_budget"]) != 0.01:
    assert time.monotonic() - t0 < 5, "reload did not set cpu_budget"
    time.sleep(0.05)
spaced, lag = feed(6.0)
a.flush_lost()
time.sleep(0.5)
s = a.status()
print("cpu_budget = 1%%: written %d (%.0f/s over both), read %d, lost %d, "
      "tracked %d, rounds %d (%d early), reads put off %d, spacing at most "
      "%.1f ms, now %s s; writer at most %.1f ms late"
      % (a.written, a.written / 8.5, s["samples"], s["lost_samples"],
         s["tracked_pages"], s["ticks"], s["early_rounds"],
         s["sampler_waits"], spaced, s["sampler_read_space_seconds"], lag))
assert spaced > 0, "reads never spaced"
assert s["sampler_waits"] > 0, "no read put off"
assert s["lost_samples"] == a.lost
assert s["samples"] + s["lost_samples"] == a.written, "samples unaccounted for"
assert a.lost == 0, "samples lost while reads were spaced"
assert s["promoted_pages"] > 0
PY
grep -q "sampler: read .* apart\|sampler: read at the timer" "$T/agent.log" || {
	echo "no spacing logged"; cat "$T/agent.log"; exit 1; }
grep -q "budget 1.00%)" "$T/agent.log" || {
	echo "the log does not give the reloaded budget"; cat "$T/agent.log"; exit 1; }
