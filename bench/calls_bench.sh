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
BIN=$(cd "$BUILD/bin" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ampmr-calls-bench-XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PYECHO="/usr/bin/python3 -c 'import sys; sys.path.insert(0, \"$SRC/sdk/python\"); import ampmr_handler; ampmr_handler.serve(lambda p: p)'"

"$BIN/ampmr-master" --listen 127.0.0.1:0 --data-dir "$WORK/master" >"$WORK/master.out" 2>"$WORK/master.log" &
PIDS+=($!)
for _ in $(seq 200); do
  grep -q "listening on" "$WORK/master.out" 2>/dev/null && break
  sleep 0.05
done
ADDR=$(sed -n 's/^ampmr-master listening on //p' "$WORK/master.out")
[[ -n $ADDR ]] || { echo "master did not start; see its log:" >&2; cat "$WORK/master.log" >&2; exit 1; }

"$BIN/ampmr-worker" --master "$ADDR" --slots 16 --handler echo=builtin:echo 2>"$WORK/worker-echo.log" &
PIDS+=($!)
"$BIN/ampmr-worker" --master "$ADDR" --slots 2 --handler "pyecho=$PYECHO" 2>"$WORK/worker-py.log" &
PIDS+=($!)
for _ in $(seq 200); do
  [[ $("$BIN/ampmr" workers --master "$ADDR" --json 2>/dev/null | grep -c worker_id) == 2 ]] && break
  sleep 0.05
done

"$BIN/calls_bench" --serve-direct >"$WORK/direct.out" &
PIDS+=($!)
for _ in $(seq 200); do
  grep -q "serving on" "$WORK/direct.out" 2>/dev/null && break
  sleep 0.05
done
DIRECT=$(sed -n 's/^calls_bench serving on //p' "$WORK/direct.out")

echo "Machine: $(nproc) cores, $(uname -sr); payload 100 bytes; everything on loopback."
echo
"$BIN/calls_bench" --master "$ADDR" --direct "$DIRECT" --handler echo --python-handler "$PYECHO" \
  --python-via-master pyecho "$@"
