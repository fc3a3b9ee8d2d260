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
T=$(mktemp -d /tmp/vtier-holds.XXXXXX)
agent=
trap '[ -z "$agent" ] || kill "$agent" 2>/dev/null; rm -rf "$T"' EXIT
mkfifo "$T/fifo"
cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[budget]
dram = 64M
headroom = 4M
[sampler]
source = replay
replay = $T/fifo
[migrate]
backend = sim
INI
"$B/vtier-agent" -c "$T/agent.ini" --sysfs "$SRC/tests/fixtures/topo-2node" \
	2>"$T/agent.log" &
agent=$!

python3 - "$T" "$B/vtierctl" <<'PY' || { cat "$T/agent.log"; exit 1; }
import errno, json, os, random, subprocess, sys, time
t, ctl = sys.argv[1], sys.argv[2]
fd = os.open(t + "/fifo", os.O_WRONLY | os.O_NONBLOCK)
base = 0x7f0000000000
rng = random.Random(7)
written = lost = pending = 0

def status():
    return json.loads(subprocess.run([ctl, "-s", t + "/agent.sock", "status",
        "--json"], check=True, capture_output=True, text=True, timeout=5).stdout)

def feed(pages, seconds, hot, rate=20000):
    """rate samples/s over pages, a fraction hot on the first 256, 64 a
    write."""
    global written, lost, pending
    end, nxt = time.monotonic() + seconds, time.monotonic()
    while time.monotonic() < end:
        now = time.monotonic_ns()
        lines = "".join("%d 4242 0x%x\n" % (now, base + ((rng.randrange(256)
            if rng.random() < hot else rng.randrange(pages)) << 12))
            for _ in range(64))
        head = "# lost %d\n" % pending if pending else ""
        try:
            os.write(fd, (head + lines).encode())
            pending = 0
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
            lost += 64; pending += 64
        written += 64
        nxt += 64.0 / rate
        time.sleep(max(0.0, nxt - time.monotonic()))

while True:
    try:
        s0 = status(); break
    except Exception:
        time.sleep(0.1)
feed(300, 2.0, 0.9)
s1 = status()
print("300 pages: %d samples read, %d tracked, %d rounds (%d early), held %d"
      % (s1["samples"], s1["tracked_pages"], s1["ticks"], s1["early_rounds"],
         s1["sampler_holds"]))
assert s1["tracked_pages"] <= 300
assert s1["sampler_holds"] == 0, "held with a small table"

feed(100300, 4.0, 0.3)
time.sleep(0.3)
s2 = status()
print("100300 pages: written %d, read %d, lost %d, tracked %d, rounds %d "
      "(%d early), held %d, promoted %d pages"
      % (written, s2["samples"], s2["lost_samples"], s2["tracked_pages"],
         s2["ticks"], s2["early_rounds"], s2["sampler_holds"],
         s2["promoted_pages"]))
assert s2["tracked_pages"] > 40000
assert s2["sampler_holds"] >= 20, "not held with a large table"
assert s2["ticks"] > s1["ticks"], "no rounds while held"
assert s2["lost_samples"] == lost
assert s2["samples"] + s2["lost_samples"] == written, "samples unaccounted for"
assert lost == 0, "samples lost while held"
assert s2["promoted_pages"] > 0
PY
