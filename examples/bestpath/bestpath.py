#!/usr/bin/python3
"""An ampmr call handler: shortest paths in a graph loaded once per process.

    ampmr-worker --slots 4 --handler \
        bestpath="/usr/bin/python3 examples/bestpath/bestpath.py /tmp/bestpath-graph.txt"

Request: "FROM TO" (node numbers). Answer: "COST NODE NODE ...", the path's
total weight and its nodes from FROM to TO. Errors: INVALID_ARGUMENT for a
malformed request, NOT_FOUND for an unknown node or no path.
"""

import heapq
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "sdk", "python"))
import ampmr_handler  # noqa: E402


def load(path):
    """Adjacency lists: node -> [(neighbour, weight), ...]."""
    adj = {}
    with open(path, "rb") as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            u, v, w = int(parts[0]), int(parts[1]), int(parts[2])
            adj.setdefault(u, []).append((v, w))
            adj.setdefault(v, [])
    return adj


def shortest_path(adj, src, dst):
    """Dijkstra from src, stopping when dst is settled. (cost, [nodes]) or None."""
    dist = {src: 0}
    prev = {}
    heap = [(0, src)]
    while heap:
        d, u = heapq.heappop(heap)
        if u == dst:
            path = [u]
            while u in prev:
                u = prev[u]
                path.append(u)
            path.reverse()
            return d, path
        if d > dist[u]:
            continue
        for v, w in adj[u]:
            nd = d + w
            if nd < dist.get(v, nd + 1):
                dist[v] = nd
                prev[v] = u
                heapq.heappush(heap, (nd, v))
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bestpath.py GRAPH_FILE")
    start = time.time()
    adj = load(sys.argv[1])
    edges = sum(len(v) for v in adj.values())
    print("bestpath pid=%d loaded %d nodes, %d edges from %s in %.1fs"
          % (os.getpid(), len(adj), edges, sys.argv[1], time.time() - start), flush=True)

    def handle(request):
        parts = request.split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            shown = request[:100].decode("utf-8", "replace")
            raise ampmr_handler.HandlerError(ampmr_handler.INVALID_ARGUMENT,
                                             "want \"FROM TO\", got %r" % shown)
        src, dst = int(parts[0]), int(parts[1])
        for node in (src, dst):
            if node not in adj:
                raise ampmr_handler.HandlerError(ampmr_handler.NOT_FOUND, "no node %d" % node)
        found = shortest_path(adj, src, dst)
        if found is None:
            raise ampmr_handler.HandlerError(ampmr_handler.NOT_FOUND,
                                             "no path from %d to %d" % (src, dst))
        cost, path = found
        return "%d %s" % (cost, " ".join(map(str, path)))

    ampmr_handler.serve(handle)


if __name__ == "__main__":
    main()
