#!/usr/bin/python3
"""Writes a weighted road-like graph as an edge list, one "FROM TO WEIGHT" line
per directed edge: a ring of towns, each linked to a few near neighbours and
one far one. The default (110,000 nodes) is about 12 MB. Deterministic for a
given --seed.

    /usr/bin/python3 examples/bestpath/gen_graph.py > /tmp/bestpath-graph.txt
"""

import argparse
import random
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=110_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    n = args.nodes
    out = sys.stdout
    lines = []
    for u in range(n):
        # Near neighbours along the ring, both ways, and one long road.
        for step in (1, 2, 7):
            v = (u + step) % n
            w = rng.randint(1, 20) * step
            lines.append("%d %d %d\n%d %d %d\n" % (u, v, w, v, u, w))
        v = rng.randrange(n)
        w = rng.randint(200, 2000)
        lines.append("%d %d %d\n" % (u, v, w))
        if len(lines) >= 10_000:
            out.write("".join(lines))
            lines.clear()
    out.write("".join(lines))


if __name__ == "__main__":
    main()
