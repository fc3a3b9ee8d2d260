# agent_early.sh - early rounds in the running agent (replay from a FIFO,
# backend = sim): with the timer's rounds 2 s apart, pages that turn hot
# after the first round are promoted by rounds the samples start, counted
# in early_rounds, before the timer's second round.
set -eu
: "${B:=build}" "${SRC:=.}"
. "$SRC/tests/sh/lib/fifo_agent.sh"
fifo_agent early "[policy]
interval = 2s"

# 0-2.5 s: page 0 alone (the first round, at 2 s, sets what a page needs);
# then pages 1-10, 50 samples a second each, until the status is read.
python3 - "$T" "$B/vtierctl" <<'PY'
import json, subprocess, sys, time
t, ctl = sys.argv[1], sys.argv[2]
f = open(t + "/fifo", "w")
base, t0 = 0x7f0000000000, time.monotonic()
def put(page):
    f.write("%d 4242 0x%x\n" % (time.monotonic_ns(), base + (page << 12)))
    f.flush()
while time.monotonic() - t0 < 2.5:
    put(0)
    time.sleep(0.02)
while time.monotonic() - t0 < 3.5:
    for p in range(1, 11):
        put(p)
    time.sleep(0.02)
st = json.loads(subprocess.run([ctl, "-s", t + "/agent.sock", "status", "--json"],
                               check=True, capture_output=True, text=True).stdout)
print("after 3.5 s: rounds %d, early %d, promoted %d pages" % (st["ticks"],
      st["early_rounds"], st["promoted_pages"]))
# the timer's rounds: at 2 s only (the agent started before t0)
assert st["early_rounds"] >= 1, "no early round"
assert st["ticks"] - st["early_rounds"] <= 1, "more timer rounds than expected"
assert st["promoted_pages"] >= 11, "pages 1-10 not promoted"
f.close()
PY
kill -TERM "$agent"
wait "$agent" || { cat "$T/agent.log"; exit 1; }
agent=
