#!/usr/bin/env python3
"""gentrace.py - generate a hot/cold sample trace in the agent's text format.

Each of --pids processes owns --hot hot pages and --cold cold pages (4 KiB,
at distinct virtual addresses); a fraction --hot-frac of the samples hit a
hot page, the rest a cold one, uniformly within each set.  Writes the trace
to --out and the hot pages ("pid addr" per line) to --hot-list.
"""
import argparse
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pids", type=int, default=2)
    ap.add_argument("--hot", type=int, default=4096, help="hot pages per pid")
    ap.add_argument("--cold", type=int, default=50000, help="cold pages per pid")
    ap.add_argument("--samples", type=int, default=500000)
    ap.add_argument("--hot-frac", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base-pid", type=int, default=1000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hot-list", required=True)
    a = ap.parse_args()

    rng = random.Random(a.seed)
    base = 0x7f0000000000
    pids = [a.base_pid + i for i in range(a.pids)]
    # hot pages interleaved with cold ones so neither set is one range
    hot, cold = {}, {}
    for pid in pids:
        pages = list(range(a.hot + a.cold))
        rng.shuffle(pages)
        hot[pid] = [base + (p << 12) for p in pages[:a.hot]]
        cold[pid] = [base + (p << 12) for p in pages[a.hot:]]
    with open(a.hot_list, "w") as f:
        for pid in pids:
            for addr in hot[pid]:
                f.write("%d 0x%x\n" % (pid, addr))
    t = 0
    with open(a.out, "w") as f:
        f.write("# gentrace: pids=%d hot=%d cold=%d samples=%d hot_frac=%g\n"
                % (a.pids, a.hot, a.cold, a.samples, a.hot_frac))
        lines = []
        for _ in range(a.samples):
            pid = rng.choice(pids)
            if rng.random() < a.hot_frac:
                addr = rng.choice(hot[pid])
            else:
                addr = rng.choice(cold[pid])
            t += 1000
            lines.append("%d %d 0x%x\n" % (t, pid, addr + rng.randrange(0, 4096, 8)))
            if len(lines) >= 65536:
                f.writelines(lines)
                lines = []
        f.writelines(lines)


if __name__ == "__main__":
    main()
