#!/usr/bin/env bash
# Calls benchmark: echo calls through the master vs a direct gRPC echo server,
# and the Python handler loop. Starts a master, two workers (builtin echo on
# 16 slots; a Python echo handler, sdk/python's serve(), on 2 children) and a
# direct echo server process, runs calls_bench against them, stops them.
# Prints markdown.
#
#   bench/calls_bench.sh [BUILD_DIR] [calls_bench flags...]
set -euo pipefail

BUILD=${1:-build}
shift || true
source "$(dirname "$0")/lib.sh" calls-bench

PYECHO="/usr/bin/python3 -c 'import sys; sys.path.insert(0, \"$SRC/sdk/python\"); import ampmr_handler; ampmr_handler.serve(lambda p: p)'"

start_master --data-dir "$WORK/master"
start_worker --slots 16 --handler echo=builtin:echo
start_worker --slots 2 --handler "pyecho=$PYECHO"
wait_for_workers 2

"$BIN/calls_bench" --serve-direct >"$WORK/direct.out" &
EXTRA_PIDS+=($!)
for _ in $(seq 200); do
  grep -q "serving on" "$WORK/direct.out" 2>/dev/null && break
  sleep 0.05
done
DIRECT=$(sed -n 's/^calls_bench serving on //p' "$WORK/direct.out")

echo "Machine: $(nproc) cores, $(uname -sr); payload 100 bytes; everything on loopback."
echo
"$BIN/calls_bench" --master "$ADDR" --direct "$DIRECT" --handler echo --python-handler "$PYECHO" \
  --python-via-master pyecho "$@"
