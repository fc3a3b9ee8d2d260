#!/bin/sh
# eval.sh BUILD_DIR - vtier's policy against the per-epoch oracle and the
# published baselines (`make eval`).
#
# Traces (into BUILD_DIR/eval/traces, binary format), each from a fixed
# seed:
#   zipf99, zipf80   one process, 64K pages (256 MiB), Zipf skew 0.99 / 0.8
#   shift            a hot set of 8K pages (90% of samples) that moves to
#                    other pages 4 times
#   scan             a 4K-page hot set (70%) plus a sequential scan over
#                    all other pages (30%)
#   mix              4 processes of 16K pages, Zipf skews 0.6, 0.9, 1.1, 1.3
#   drift            gradual drift: a hot window of 8K pages (90%) of 64K
#                    that slides over 32K pages in the 60 s
#   sparse           a sparse, large footprint: 1M pages (4 GiB) with a
#                    hot window of 64K pages (80%) sliding over 128K: a
#                    window page is sampled about twice per 8 s, and the
#                    budgets hold 1.4-2.7 times the window
#   procs            16 processes of 8K pages at different rates (each
#                    about 0.7 of the one before, 64 to 0.35), Zipf skews
#                    0.6 to 1.2
#   tinyhot          a budget much larger than the hot set: 512 hot pages
#                    (95%) of 64K, moving twice
#   bighot           a budget much smaller than the hot set: 48K of 64K
#                    pages equally hot (95%)
#   sqlite3          lackey trace of sqlite3 building, indexing and querying
#                    a table of 2000 rows in a file database
#   xz               lackey trace of xz -1 compressing 64 KB of text
#   sqlite3-llc, xz-llc  the same runs as PEBS would see them: only the
#                    accesses that miss a 64 KiB 16-way LRU last-level
#                    cache model (vtier-sim lackey --llc), every miss a
#                    sample.  The LLC is 1/40 to 1/50 of these programs'
#                    footprints, as a 32 MiB LLC is of a 1.5 GiB working
#                    set; a real PEBS period (1 in 20 or more) would leave
#                    too few samples from such short runs to tell
#                    policies apart.
# The synthetic ones: 1.2M samples at 20000 samples/s (60 s); the lackey
# ones: 1 in 20 data accesses (or every LLC miss) at 20000 samples/s.
# Nothing here was tuned to any policy: the parameters were fixed before
# the first run.
#
# Cost model (vtier-sim --cost, agent/sim/cost.c): a sample stands for
# the PEBS default period of 10007 memory accesses on the synthetic
# traces, for 20 accesses on the all-access lackey traces (--every 20)
# and for one on the LLC ones; 100 ns fast, 250 ns slow, 10 us per 4 KiB
# page migrated.
#
# Each trace runs at budgets of 12.5%, 25% and 50% of its footprint
# under every policy, with 10 s epochs (vtier-sim's default), two runs at
# a time.  Writes BUILD_DIR/eval/results.csv (one row per trace, budget
# and policy), results.md (tables and the acceptance check) and
# hit_ratio.png (hit/oracle and slowdown against budget per policy),
# plus the per-epoch CSVs.
set -eu
B=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
S="$B/vtier-sim"
OUT="$B/eval"
TR="$OUT/traces"
start=$(date +%s)
mkdir -p "$TR" "$OUT/epochs" "$OUT/runs"

missing=""
for p in gnuplot-nox valgrind sqlite3 xz-utils python3; do
	dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "eval: installing$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $missing
fi
[ -x "$S" ] || { echo "eval: $S missing (make $S)"; exit 1; }

step() { echo "eval: $* ($(($(date +%s) - start)) s)"; }

step "synthetic traces"
G="--samples 1200000 --rate 20000 --binary"
"$S" gen zipf --pages 65536 --skew 0.99 --seed 1 $G -o "$TR/zipf99.vtb"
"$S" gen zipf --pages 65536 --skew 0.8 --seed 2 $G -o "$TR/zipf80.vtb"
"$S" gen shift --pages 65536 --hot 8192 --hot-frac 0.9 --phases 4 --seed 3 $G \
	-o "$TR/shift.vtb"
"$S" gen scan --pages 65536 --hot 4096 --hot-frac 0.7 --seed 4 $G -o "$TR/scan.vtb"
"$S" gen mix --procs 4 --pages 16384 --skews 0.6,0.9,1.1,1.3 --seed 5 $G \
	-o "$TR/mix.vtb"
"$S" gen slide --pages 65536 --hot 8192 --hot-frac 0.9 --travel 32768 --seed 6 $G \
	-o "$TR/drift.vtb"
"$S" gen slide --pages 1048576 --hot 65536 --hot-frac 0.8 --travel 131072 \
	--seed 7 $G -o "$TR/sparse.vtb"
"$S" gen mix --procs 16 --pages 8192 \
	--skews 0.6,0.8,1.0,1.2,0.6,0.8,1.0,1.2,0.6,0.8,1.0,1.2,0.6,0.8,1.0,1.2 \
	--weights 64,45,32,23,16,11,8,6,4,3,2,1.4,1,0.7,0.5,0.35 --seed 8 $G \
	-o "$TR/procs.vtb"
"$S" gen shift --pages 65536 --hot 512 --hot-frac 0.95 --phases 3 --seed 9 $G \
	-o "$TR/tinyhot.vtb"
"$S" gen shift --pages 65536 --hot 49152 --hot-frac 0.95 --phases 1 --seed 10 $G \
	-o "$TR/bighot.vtb"

# Real programs from Debian under lackey, converted on the fly (valgrind's
# trace goes to fd 9, the program's own output to /dev/null), once with
# every data access and once through the LLC model, from the same run.
# The same on every run (on the same Debian packages): valgrind lays its
# guest out without randomization, so what moves addresses is what lands
# on the guest's stack, the environment and the working directory (a
# longer variable moved the stack's addresses by 64 bytes), and the pid
# in the trace, which the heat table hashes: the program runs from / in
# a fixed environment, its paths all of one length ($W's name), and the
# trace takes pid 1000.  Two runs of make eval give the same traces and
# tables, byte for byte.
W=$(mktemp -d /tmp/vtier-eval.XXXXXX)
trap 'rm -rf "$W"' EXIT
lackey() {	# name, stdin, command...
	name=$1; in=$2; shift 2
	mkfifo "$W/$name.fifo"
	"$S" lackey --pid 1000 --every 1 --llc 64K,16 --binary \
		-o "$TR/$name-llc.vtb" <"$W/$name.fifo" 2>"$OUT/runs/$name-llc.lackey" &
	(cd / && env -i PATH=/usr/bin:/bin LC_ALL=C \
		valgrind --tool=lackey --trace-mem=yes --log-fd=9 "$@" 9>&1 \
		>/dev/null 2>/dev/null <"$in") | tee "$W/$name.fifo" |
		"$S" lackey --pid 1000 --every 20 --binary -o "$TR/$name.vtb" \
		2>"$OUT/runs/$name.lackey"
	wait
}
cat >"$W/work.sql" <<'EOF'
PRAGMA cache_size = -32000;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000)
INSERT INTO t SELECT x, (x * 7919) % 10007, zeroblob(600) FROM c;
CREATE INDEX tk ON t(k);
SELECT count(*) FROM t WHERE k BETWEEN 100 AND 5000;
SELECT sum(length(v)) FROM t WHERE id % 7 = 3;
SELECT k, count(*) FROM t GROUP BY k ORDER BY 2 DESC LIMIT 3;
EOF
cat /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/GPL-2 \
	/usr/share/common-licenses/Apache-2.0 | head -c 65536 >"$W/text"
step "lackey traces of sqlite3 and xz (valgrind, about a minute)"
lackey sqlite3 "$W/work.sql" sqlite3 "$W/db" &
lackey xz /dev/null xz -1 -c "$W/text"
wait
cat "$OUT"/runs/sqlite3*.lackey "$OUT"/runs/xz*.lackey

TRACES="zipf99 zipf80 shift scan mix drift sparse procs tinyhot bighot sqlite3 xz sqlite3-llc xz-llc"
BUDGETS="12.5 25 50"
step "replays: $(echo $TRACES | wc -w) traces x 3 budgets x 6 policies and the oracle"
cost() {	# trace: the accesses one of its samples stands for
	case $1 in
	*-llc) echo "--cost accesses=1" ;;
	sqlite3|xz) echo "--cost accesses=20" ;;
	*) echo "" ;;
	esac
}
# vtier again with the agent's CPU priced (vtier-sim --agent-cpu), its
# reads spaced within [sampler] cpu_budget (1%) as the agent spaces them:
# bench_agent's figures on AMD EPYC guests with a paravirtualized kernel
# (agent/sim/cost.c): 10 us a wake-up, 150 ns a sample, 165 us a tick.
AGENT_CPU="wakeup=10000,sample=150,tick=165000"
replay() {	# trace, budget
	"$S" --trace "$TR/$1.vtb" --budget "$2%" $(cost $1) \
		--csv "$OUT/epochs/$1-$2.csv" \
		>"$OUT/runs/$1-$2.txt" 2>"$OUT/runs/$1-$2.err" ||
		{ echo "eval: $1 at $2%: failed"; cat "$OUT/runs/$1-$2.err";
		  touch "$OUT/runs/failed"; }
	# the best placement fixed for the whole trace, for reference: on a
	# stationary trace no causal policy beats it but for sampling noise
	"$S" --trace "$TR/$1.vtb" --budget "$2%" $(cost $1) --policy oracle \
		--epoch 100000s 2>/dev/null | sed 's/policy=oracle/policy=static-oracle/' \
		>>"$OUT/runs/$1-$2.txt"
	"$S" --trace "$TR/$1.vtb" --budget "$2%" $(cost $1) --policy vtier \
		--agent-cpu "$AGENT_CPU" 2>/dev/null |
		sed 's/policy=vtier/policy=vtier-budgeted/' >>"$OUT/runs/$1-$2.txt"
	# the headroom held at its auto cap (1/16 of the budget) all along:
	# a guest whose creep keeps it there (the test bed's scenarios do)
	"$S" --trace "$TR/$1.vtb" --budget "$2%" $(cost $1) --policy vtier \
		--headroom 6.25% 2>/dev/null |
		sed 's/policy=vtier/policy=vtier-headroom-cap/' >>"$OUT/runs/$1-$2.txt"
}
rm -f "$OUT/runs/failed"
n=0
for t in $TRACES; do
	for b in $BUDGETS; do
		replay $t $b &
		n=$((n + 1))
		[ $((n % 2)) -eq 0 ] && wait
	done
done
wait
[ ! -e "$OUT/runs/failed" ] || exit 1
step "tables and plot"
AGENT_CPU=$AGENT_CPU python3 - "$OUT" "$TRACES" "$BUDGETS" <<'PY'
import math, os, re, sys
out, traces, budgets = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
policies = ["vtier", "hemem", "memtis", "tpp", "tpp-scan", "first-touch", "oracle"]
shown = policies[:-1]
extra = ["static-oracle", "vtier-budgeted", "vtier-headroom-cap"]
baselines = ["hemem", "memtis", "tpp", "tpp-scan"]
rows, info = {}, {}
for t in traces:
    for b in budgets:
        run = os.path.join(out, "runs", "%s-%s" % (t, b))
        for line in open(run + ".txt"):
            kv = dict(f.split("=", 1) for f in line.split())
            rows[(t, b, kv["policy"])] = kv
        info[(t, b)] = open(run + ".err").read().strip()
def val(t, b, p, k):
    return float(rows[(t, b, p)][k])
with open(os.path.join(out, "results.csv"), "w") as f:
    f.write("trace,budget_pct,policy,hit,oracle,ratio,migrated_mib,slowdown\n")
    for t in traces:
        for b in budgets:
            for p in policies + extra:
                r = rows[(t, b, p)]
                f.write("%s,%s,%s,%s,%s,%s,%s,%s\n" % (t, b, p, r["hit"],
                        r["oracle"], r["ratio"], r["migrated_mib"], r["slowdown"]))
def gmean(xs):
    return math.exp(sum(math.log(max(x, 1e-9)) for x in xs) / len(xs))
# The rate ideal of a synthetic trace: the best placement by every page's
# true access probability (the generator's distribution, known here, not
# learnt from samples), changed at once and for free when the
# distribution does (shift's phases, the sliding windows).  A policy that
# estimated every rate exactly would reach it; the per-epoch oracle is
# above it by what hindsight on the epoch's own samples is worth.  The
# parameters are those of the gen lines above.
def zipf_probs(n, s, share=1.0):
    w = [r ** -s for r in range(1, n + 1)]
    t = sum(w)
    return [share * x / t for x in w]
def top(ps, b):
    return sum(sorted(ps, reverse=True)[:b])
def hot_cold(pages, hot, frac, b):
    return frac * min(b, hot) / hot + (1 - frac) * max(b - hot, 0) / (pages - hot)
def window(pages, hot, frac, b):
    # the other samples are uniform over every page, the window's too
    if b <= hot:
        return b * (frac / hot + (1 - frac) / pages)
    return frac + (1 - frac) * b / pages
procs_w = [64, 45, 32, 23, 16, 11, 8, 6, 4, 3, 2, 1.4, 1, 0.7, 0.5, 0.35]
ideal_fn = {
    "zipf99": lambda b: top(zipf_probs(65536, 0.99), b),
    "zipf80": lambda b: top(zipf_probs(65536, 0.8), b),
    "shift": lambda b: hot_cold(65536, 8192, 0.9, b),
    "scan": lambda b: hot_cold(65536, 4096, 0.7, b),
    "mix": lambda b: top([x for s in (0.6, 0.9, 1.1, 1.3)
                          for x in zipf_probs(16384, s, 0.25)], b),
    "drift": lambda b: window(65536, 8192, 0.9, b),
    "sparse": lambda b: window(1048576, 65536, 0.8, b),
    "procs": lambda b: top([x for i, w in enumerate(procs_w)
                            for x in zipf_probs(8192, (0.6, 0.8, 1.0, 1.2)[i % 4],
                                                w / sum(procs_w))], b),
    "tinyhot": lambda b: hot_cold(65536, 512, 0.95, b),
    "bighot": lambda b: hot_cold(65536, 49152, 0.95, b),
}
ideal = {}
for t in traces:
    for b in budgets:
        m = re.search(r"\((\d+) pages\), epoch", info[(t, b)])
        if t in ideal_fn and m:
            ideal[(t, b)] = ideal_fn[t](int(m.group(1)))
def ideal_cell(t, b):
    if (t, b) not in ideal:
        return "-"
    return "%.4f (%.4f)" % (ideal[(t, b)], ideal[(t, b)] / val(t, b, "oracle", "hit"))
def best_baseline(t, b):
    return max(baselines, key=lambda p: val(t, b, p, "hit"))
md = ["# vtier-sim evaluation", "",
      "hit = share of samples whose page was in the fast tier; ratio = "
      "hit / per-epoch oracle (10 s epochs); MiB = pages promoted + demoted; "
      "x = slowdown, the cost model's run time of the memory accesses against "
      "all of them on the fast tier (agent/sim/cost.c: 100 ns fast, 250 ns slow, "
      "10 us per 4 KiB page migrated; a sample stands for 10007 accesses on the "
      "synthetic traces, 20 on sqlite3/xz, 1 on the -llc ones). "
      "Budgets are % of each trace's footprint. `static` is the best placement "
      "fixed for the whole trace (the oracle with one epoch): on a stationary "
      "trace it is what a causal policy can reach, and static / oracle is the "
      "part of the oracle that is hindsight on sampling noise. `rate ideal` "
      "(synthetic traces) is the best placement by each page's true access "
      "probability, from the generator's parameters, moved at once and for free "
      "when they change: what a policy that knew every rate exactly would reach.", ""]
for t in traces:
    md.append("- `%s`: %s" % (t, info[(t, budgets[0])].split(": ", 1)[-1]
              .split("; budget")[0]))
md.append("")
for b in budgets:
    md += ["## Budget %s%%" % b, "",
           "| trace | oracle | static | rate ideal | " + " | ".join(shown) + " |",
           "|---|---:|---:|---:|" + "---:|" * len(shown)]
    for t in traces:
        o = rows[(t, b, "oracle")]
        cells = []
        for p in shown:
            r = rows[(t, b, p)]
            cells.append("%s (%s) %s MiB %.3fx" % (r["hit"], r["ratio"],
                         r["migrated_mib"], float(r["slowdown"])))
        st = rows[(t, b, "static-oracle")]
        md.append("| %s | %s | %s (%.4f) | %s | %s |" % (t, o["hit"], st["hit"],
                  float(st["hit"]) / float(o["hit"]), ideal_cell(t, b), " | ".join(cells)))
    g = [gmean([val(t, b, p, "ratio") for t in traces]) for p in shown]
    md.append("| **geomean ratio** | | | | " + " | ".join("**%.4f**" % x for x in g) + " |")
    g = [gmean([val(t, b, p, "slowdown") for t in traces]) for p in shown]
    md.append("| **geomean slowdown** | | | | " + " | ".join("**%.4f**" % x for x in g) + " |")
    md.append("")
# Issue 18's acceptance, at every budget: vtier's geomean hit/oracle at
# least every baseline's and its geomean slowdown the lowest of all
# policies; per trace, vtier's hit within 0.01 of the best baseline's or
# better, and its migration at most that baseline's or its slowdown lower.
md += ["## Acceptance", "",
       "At each budget: vtier's geomean hit/oracle at least every baseline's, its "
       "geomean slowdown the lowest of all policies; per trace, vtier's hit within "
       "0.01 of the best baseline's (by hit) or better, and its migration at most "
       "that baseline's or its slowdown lower. Goal beyond: vtier's geomean at least "
       "the geomean of each trace's best baseline, picked with hindsight.", ""]
for b in budgets:
    gv = gmean([val(t, b, "vtier", "ratio") for t in traces])
    gs = gmean([val(t, b, "vtier", "slowdown") for t in traces])
    gb = {p: gmean([val(t, b, p, "ratio") for t in traces]) for p in baselines}
    gsl = {p: gmean([val(t, b, p, "slowdown") for t in traces]) for p in shown[1:]}
    best = gmean([val(t, b, best_baseline(t, b), "ratio") for t in traces])
    md.append("### %s%%" % b)
    md.append("- geomean hit/oracle: vtier **%.4f**; %s: %s" % (gv,
              ", ".join("%s %.4f" % (p, gb[p]) for p in baselines),
              "met" if all(gv >= x for x in gb.values()) else "NOT met"))
    md.append("- geomean slowdown: vtier **%.4f**; %s: %s" % (gs,
              ", ".join("%s %.4f" % (p, gsl[p]) for p in gsl),
              "met" if all(gs <= x for x in gsl.values()) else "NOT met"))
    md.append("- goal beyond: geomean of each trace's best baseline %.4f: %s" % (best,
              "met" if gv >= best else "short by %.4f" % (best - gv)))
    # Not the acceptance, which takes every baseline: tpp promotes at any
    # sample for free, tpp-scan at most once per pass of the kernel's
    # scanner (agent/sim/pol_tpp.c), and this is the line without the former.
    real = [p for p in baselines if p != "tpp"]
    md.append("- for comparison, without tpp (every sample a hint fault): hit/oracle "
              "%s; slowdown %s" % (
              "met" if all(gv >= gb[p] for p in real) else "NOT met",
              "met" if all(gs <= gsl[p] for p in gsl if p != "tpp") else "NOT met"))
    miss = []
    for t in traces:
        bb = best_baseline(t, b)
        dh = val(t, b, "vtier", "hit") - val(t, b, bb, "hit")
        mig_ok = (val(t, b, "vtier", "migrated_mib") <= val(t, b, bb, "migrated_mib") or
                  val(t, b, "vtier", "slowdown") < val(t, b, bb, "slowdown"))
        ok = dh >= -0.01 and mig_ok
        if not ok:
            miss.append(t)
        md.append("  - %s: vtier hit %s vs %s %s (%+.4f), %s vs %s MiB, slowdown "
                  "%.4f vs %.4f%s" % (t, rows[(t, b, "vtier")]["hit"], bb,
                  rows[(t, b, bb)]["hit"], dh, rows[(t, b, "vtier")]["migrated_mib"],
                  rows[(t, b, bb)]["migrated_mib"], val(t, b, "vtier", "slowdown"),
                  val(t, b, bb, "slowdown"), "" if ok else " **(not met)**"))
    md.append("- per trace: %s" % ("met on all %d" % len(traces) if not miss else
              "not met on %s" % ", ".join(miss)))
    md.append("")
b = "25"
syn = [t for t in traces if (t, b) in ideal]
if syn:
    md += ["## What exact rates would give (25%)", "",
           "Rate ideal / per-epoch oracle, and vtier's hit against it.  On the "
           "traces drawn independently from a distribution no causal policy beats "
           "the rate ideal in expectation; scan is deterministic, and a policy that "
           "followed the scan could.", ""]
    for t in syn:
        md.append("- %s: rate ideal %.4f, vtier / rate ideal %.4f" % (t,
                  ideal[(t, b)] / val(t, b, "oracle", "hit"),
                  val(t, b, "vtier", "hit") / ideal[(t, b)]))
    md.append("- geomean over these %d: rate ideal %.4f, vtier %.4f" % (len(syn),
              gmean([ideal[(t, b)] / val(t, b, "oracle", "hit") for t in syn]),
              gmean([val(t, b, "vtier", "ratio") for t in syn])))
    gv = gmean([val(t, b, "vtier", "ratio") for t in traces])
    md.append("- issue 6's target, 0.97 geomean hit/oracle at 25%%: vtier %.4f (%s)" %
              (gv, "met" if gv >= 0.97 else "short by %.4f" % (0.97 - gv)))
md += ["", "## The agent held to its CPU budget", "",
       "vtier again with the agent's CPU priced (`--agent-cpu %s`, "
       "bench_agent's figures on PVM guests): its reads of the sampler spaced "
       "within 1%% of a CPU as the agent spaces them, rounds counted up to "
       "half of it, and once the spacing is at its longest the PEBS period "
       "raised as the agent raises it: the agent then sees only part of the "
       "trace's samples (samples skipped).  Rounds are not spaced by the "
       "budget (by the table's size), so where they alone pass half of it "
       "the modelled agent stays over 1%%, and its period rises until the "
       "rest keeps to the other half." %
       os.environ.get("AGENT_CPU", "?"), ""]
def against_vtier(b, p):
    """vtier's run p at budget b against vtier's own: the geomean
    hit/oracle and slowdown of each, and the traces moved by 0.001."""
    moved = ["%s %+.4f" % (t, val(t, b, p, "ratio") - val(t, b, "vtier", "ratio"))
             for t in traces
             if abs(val(t, b, p, "ratio") - val(t, b, "vtier", "ratio")) >= 0.001]
    return ("geomean hit/oracle %.4f -> %.4f, slowdown %.4f -> %.4f; "
            "moved by 0.001 or more: %s" %
            (gmean([val(t, b, "vtier", "ratio") for t in traces]),
             gmean([val(t, b, p, "ratio") for t in traces]),
             gmean([val(t, b, "vtier", "slowdown") for t in traces]),
             gmean([val(t, b, p, "slowdown") for t in traces]),
             ", ".join(moved) or "none"))
for b in budgets:
    cpu = {t: float(rows[(t, b, "vtier-budgeted")]["agent_cpu"].rstrip("%"))
           for t in traces}
    spaced = [t for t in traces if int(rows[(t, b, "vtier-budgeted")]["sampler_waits"]) > 0]
    over = ["%s %.2f%%" % (t, cpu[t]) for t in traces if cpu[t] > 1.0]
    skipped = ["%s %dK" % (t, int(rows[(t, b, "vtier-budgeted")]["samples_skipped"]) // 1000)
               for t in traces if int(rows[(t, b, "vtier-budgeted")]["samples_skipped"]) > 0]
    md.append("- %s%%: %s; reads spaced on %s; samples skipped on %s; "
              "over 1%%: %s" %
              (b, against_vtier(b, "vtier-budgeted"),
               ", ".join(spaced) or "none", ", ".join(skipped) or "none",
               ", ".join(over) or "none"))
md += ["", "## The headroom at its cap", "",
       "vtier's headroom (`[budget] headroom = auto`) follows the creep of "
       "memory the agent does not manage, measured between rounds; a trace "
       "has none, so above it keeps none.  A guest whose creep keeps the "
       "headroom at its cap, 1/16 of the budget (the test bed's scenarios "
       "sit at 60-100% of it), would see this (`--headroom 6.25%`).  The "
       "baselines keep what they keep either way (HeMem-like none, "
       "TPP-like 2%).", ""]
for b in budgets:
    md.append("- %s%%: %s" % (b, against_vtier(b, "vtier-headroom-cap")))
md.append("")
with open(os.path.join(out, "results.md"), "w") as f:
    f.write("\n".join(md) + "\n")
# plot.dat: the geomean ratio per policy, the geomean slowdown per
# policy, then each trace's ratio per policy, then each trace's rate
# ideal / oracle (NaN where there is none); gnuplot reads them by index.
with open(os.path.join(out, "plot.dat"), "w") as f:
    for k in ("ratio", "slowdown"):
        for p in shown:
            f.write("# %s %s\n" % (k, p))
            for b in budgets:
                f.write("%s %.4f\n" % (b, gmean([val(t, b, p, k) for t in traces])))
            f.write("\n\n")
    for t in traces:
        for p in shown:
            f.write("# %s %s\n" % (t, p))
            for b in budgets:
                f.write("%s %s\n" % (b, rows[(t, b, p)]["ratio"]))
            f.write("\n\n")
    for t in traces:
        f.write("# %s rate-ideal\n" % t)
        for b in budgets:
            f.write("%s %s\n" % (b, "%.4f" % (ideal[(t, b)] / val(t, b, "oracle", "hit"))
                                 if (t, b) in ideal else "NaN"))
        f.write("\n\n")
PY
np=6
nt=$(echo $TRACES | wc -w)
{
	echo "set terminal pngcairo size 2000,1600 font ',10'"
	echo "set output '$OUT/hit_ratio.png'"
	echo "set multiplot layout 4,4 title 'vtier-sim: fast-tier hit ratio / per-epoch oracle (dashed: rate ideal, synthetic traces); slowdown (cost model)'"
	echo "set xrange [10:52]; set xtics (12.5, 25, 50)"
	echo "set xlabel 'budget (% of footprint)'; set key bottom right"
	echo "set yrange [0:1.25]; set ylabel 'hit / oracle'"
	echo "set title 'geometric mean over $nt traces'"
	printf "plot "
	i=0
	for p in vtier hemem memtis tpp tpp-scan first-touch; do
		printf "'%s' index %d with linespoints lw 2 title '%s'" "$OUT/plot.dat" $i $p
		i=$((i + 1)); [ $i -lt $np ] && printf ", "
	done
	echo
	echo "set yrange [1:*]; set ylabel 'slowdown'; set key top right"
	echo "set title 'geometric mean slowdown over $nt traces'"
	printf "plot "
	for p in vtier hemem memtis tpp tpp-scan first-touch; do
		printf "'%s' index %d with linespoints lw 2 title '%s'" "$OUT/plot.dat" $i $p
		i=$((i + 1)); [ $i -lt $((2 * np)) ] && printf ", "
	done
	echo
	echo "set key off; set yrange [0:1.25]; set ylabel 'hit / oracle'"
	k=$((2 * np))
	ki=$((2 * np + nt * np))
	for t in $TRACES; do
		echo "set title '$t'"
		printf "plot "
		for p in vtier hemem memtis tpp tpp-scan first-touch; do
			printf "'%s' index %d with linespoints lw 2 title '%s', " "$OUT/plot.dat" $k $p
			k=$((k + 1))
		done
		printf "'%s' index %d with lines dt 2 lw 2 lc rgb 'black' title 'rate ideal'\n" \
			"$OUT/plot.dat" $ki
		ki=$((ki + 1))
	done
	echo "unset multiplot"
} >"$OUT/plot.gp"
if gnuplot "$OUT/plot.gp" 2>"$OUT/gnuplot.err"; then :; else
	# gnuplot-nox may lack cairo: fall back to the plain png terminal
	sed -i "1s/.*/set terminal png size 2000,1600/" "$OUT/plot.gp"
	gnuplot "$OUT/plot.gp"
fi
step "done: $OUT/results.csv, $OUT/results.md, $OUT/hit_ratio.png"
sed -n '/## Acceptance/,$p' "$OUT/results.md"
