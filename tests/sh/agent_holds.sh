# agent_holds.sh - the agent leaves its sampler to the timer's tick while
# no sample could start an early round (main.c, sampler holds), and loses
# nothing for it.  Replay from a FIFO, backend = sim, interval 50 ms (the
# default), the writer at 20000 samples/s in writes of 64 lines (the PEBS
# wake-up batch), 90% on 256 pages, never blocking: what the FIFO refuses it reports in
# "# lost N" lines, as tierload does.
#  1. 300 pages: a small table, early rounds possible: no holds.
#  2. 100000 more pages, 70% of the samples: their slots space rounds beyond half an
#     interval, no early round can come: the sampler is held (holds
#     grow with the ticks), and every sample written is read or counted
#     lost, none lost, the rounds go on and promote.
set -eu
: "${B:=build}" "${SRC:=.}"
. "$SRC/tests/sh/lib/fifo_agent.sh"
fifo_agent holds

python3 - "$T" "$B/vtierctl" "$SRC" <<'PY' || { cat "$T/agent.log"; exit 1; }
import random, sys, time
sys.dont_write_bytecode = True	# no __pycache__ in the tree
sys.path.insert(0, sys.argv[3] + "/tests/sh/lib")
from fifo_feed import Agent
a = Agent(sys.argv[1], sys.argv[2])
base = 0x7f0000000000
rng = random.Random(7)

def feed(pages, seconds, hot, rate=20000):
    """rate samples/s over pages, a fraction hot on the first 256, 64 a
    write."""
    end, nxt = time.monotonic() + seconds, time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic_ns()
        a.write(["%d 4242 0x%x\n" % (now, base + ((rng.randrange(256)
            if rng.random() < hot else rng.randrange(pages)) << 12))
            for _ in range(64)])
        nxt += 64.0 / rate
        time.sleep(max(0.0, nxt - time.monotonic()))

a.wait_status()
feed(300, 2.0, 0.9)
s1 = a.status()
print("300 pages: %d samples read, %d tracked, %d rounds (%d early), held %d"
      % (s1["samples"], s1["tracked_pages"], s1["ticks"], s1["early_rounds"],
         s1["sampler_holds"]))
assert s1["tracked_pages"] <= 300
assert s1["sampler_holds"] == 0, "held with a small table"

feed(100300, 4.0, 0.3)
time.sleep(0.3)
s2 = a.status()
print("100300 pages: written %d, read %d, lost %d, tracked %d, rounds %d "
      "(%d early), held %d, promoted %d pages"
      % (a.written, s2["samples"], s2["lost_samples"], s2["tracked_pages"],
         s2["ticks"], s2["early_rounds"], s2["sampler_holds"],
         s2["promoted_pages"]))
assert s2["tracked_pages"] > 40000
assert s2["sampler_holds"] >= 20, "not held with a large table"
assert s2["ticks"] > s1["ticks"], "no rounds while held"
assert s2["lost_samples"] == a.lost
assert s2["samples"] + s2["lost_samples"] == a.written, "samples unaccounted for"
assert a.lost == 0, "samples lost while held"
assert s2["promoted_pages"] > 0
PY
