#!/usr/bin/env bash
# ampmr benchmarks. Every figure is measured against a baseline in the same
# run, on the same files, with a warm page cache for both. Prints markdown.
#
#   bench/run.sh [BUILD_DIR] [wordcount|tasks|scaling|recovery|all]
#
# wordcount  ampmr run (2 workers, built-in wordcount + sum combiner + sum
#            reducer, process start included) vs bench's wordcount_reference,
#            the straightforward single-threaded C++ count, on 128 MiB.
# tasks      20,000 noop map tasks (one line per split) through a master and
#            2 workers started once; tasks/s from the job's own start/end.
# scaling    time and master peak memory from 1x to 4x input, and from 1k to
#            100k tasks.
# recovery   time from a worker's death (SIGKILL, or SIGSTOP found by a 2 s
#            heartbeat timeout) to its tasks running again on another worker.
set -euo pipefail

BUILD=${1:-build}
WHAT=${2:-all}
source "$(dirname "$0")/lib.sh" bench

elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }

# best_of N CMD...: the fastest wall time of N runs, in seconds.
best_of() {
  local n=$1; shift
  local best=""
  for _ in $(seq "$n"); do
    local s e t
    s=$(now); "$@" > /dev/null 2>&1; e=$(now)
    t=$(elapsed "$s" "$e")
    if [[ -z $best ]] || python3 -c "import sys; sys.exit(0 if $t < $best else 1)"; then best=$t; fi
  done
  echo "$best"
}

ampmr_wordcount() {  # INPUT_DIR OUTPUT_DIR
  rm -rf "$2"
  "$BIN/ampmr" run --workers 2 --input "$1" --output "$2" --mapper builtin:wordcount \
    --combiner builtin:sum --reducer builtin:sum --reduces 2
}

# noop_job LINES: runs a job of LINES noop map tasks on the running cluster;
# prints "seconds tasks_per_second".
noop_job() {
  local lines=$1 out="$WORK/noop-out-$1-$RANDOM"
  seq 1 "$lines" > "$WORK/lines-$lines.txt"
  local id
  id=$("$BIN/ampmr" submit --master "$ADDR" --input "$WORK/lines-$lines.txt" --output "$out" \
        --mapper builtin:noop --reducer builtin:identity --split-size 1 --wait | head -1)
  "$BIN/ampmr" status --master "$ADDR" --json "$id" | python3 -c "
import json, sys
s = json.load(sys.stdin)
t = s['end_time'] - s['start_time']
print(f\"{t:.3f} {s['map']['total'] / t:.0f}\")"
  rm -rf "$out"
}


bench_wordcount() {
  corpus 128 "$WORK/c128"
  "$BIN/wordcount_reference" "$WORK"/c128/* > "$WORK/ref.txt"  # warm the cache
  local ref ours
  ref=$(best_of 3 "$BIN/wordcount_reference" "$WORK"/c128/part0.txt "$WORK"/c128/part1.txt \
        "$WORK"/c128/part2.txt "$WORK"/c128/part3.txt "$WORK"/c128/part4.txt \
        "$WORK"/c128/part5.txt "$WORK"/c128/part6.txt "$WORK"/c128/part7.txt)
  ours=$(best_of 3 ampmr_wordcount "$WORK/c128" "$WORK/wc-out")
  ampmr_wordcount "$WORK/c128" "$WORK/wc-out" > /dev/null 2>&1
  if ! cmp -s <(sort "$WORK/ref.txt") <(cat "$WORK"/wc-out/part-* | sort); then
    echo "wordcount: OUTPUT DIFFERS from the reference" >&2; exit 1
  fi
  echo "| word count, 128 MiB, 8 files | reference (1 thread) ${ref}s | ampmr run, 2 workers ${ours}s | speed-up $(python3 -c "print(f'{$ref/$ours:.2f}')")x |"
}

# best_noop_job N LINES: the fastest of N noop jobs on the running cluster.
best_noop_job() {
  local best="" r
  for _ in $(seq "$1"); do
    r=$(noop_job "$2")
    if [[ -z $best ]] || python3 -c "import sys; sys.exit(0 if ${r% *} < ${best% *} else 1)"; then
      best=$r
    fi
  done
  echo "$best"
}

# Without a journal, then with one (--data-dir): what journaling costs.
bench_tasks() {
  local r
  start_cluster 2
  noop_job 1000 > /dev/null  # warm up
  r=$(best_noop_job 3 20000)
  echo "| 20,000 noop map tasks, 2 workers, no journal | job time ${r% *}s | ${r#* } tasks/s |"
  stop_cluster
  start_cluster 2 --data-dir "$WORK/master-data"
  noop_job 1000 > /dev/null
  r=$(best_noop_job 3 20000)
  echo "| 20,000 noop map tasks, 2 workers, journal (--data-dir) | job time ${r% *}s | ${r#* } tasks/s |"
  stop_cluster
}

bench_scaling() {
  echo "| input | ampmr run time | master peak RSS |"
  echo "|---|---|---|"
  for mib in 32 64 128; do
    corpus "$mib" "$WORK/s$mib"
    start_cluster 2
    rm -rf "$WORK/so"
    local s e
    s=$(now)
    "$BIN/ampmr" submit --master "$ADDR" --input "$WORK/s$mib" --output "$WORK/so" \
      --mapper builtin:wordcount --combiner builtin:sum --reducer builtin:sum --wait > /dev/null
    e=$(now)
    echo "| ${mib} MiB | $(elapsed "$s" "$e")s | $(( $(master_peak_kib) / 1024 )) MiB |"
    stop_cluster
    rm -rf "$WORK/s$mib" "$WORK/so"
  done
  echo
  echo "| map tasks | job time | tasks/s | master peak RSS |"
  echo "|---|---|---|---|"
  for n in 1000 10000 100000; do
    start_cluster 2
    local r
    r=$(noop_job "$n")
    echo "| $n | ${r% *}s | ${r#* } | $(( $(master_peak_kib) / 1024 )) MiB |"
    stop_cluster
  done
}

# wait_lines FILE N: until FILE has N lines (at most 30 s).
wait_lines() {
  for _ in $(seq 3000); do
    [[ -f $1 && $(wc -l < "$1") -ge $2 ]] && return 0; sleep 0.01
  done
  echo "recovery: timed out waiting for $2 lines in $1" >&2; exit 1
}

# One death: worker A (2 slots) runs both map tasks of a job whose mapper
# notes when it starts and then waits; idle worker B joins; A gets SIGNAL.
# Sets RECOVERY to the seconds from the signal to the later of the two
# mappers starting again (on B).
recovery_once() {  # SIGNAL
  local starts="$WORK/starts-$RANDOM"
  start_cluster 0 --heartbeat-timeout 2
  start_worker --slots 2
  wait_for_workers 1
  printf 'a\n' > "$WORK/in1.txt"; printf 'b\n' > "$WORK/in2.txt"
  "$BIN/ampmr" submit --master "$ADDR" --input "$WORK/in1.txt" --input "$WORK/in2.txt" \
    --output "$WORK/rec-out-$RANDOM" --reducer none \
    --mapper "exec:echo \$\$ \$(date +%s.%N) >> $starts; exec sleep 600" > /dev/null
  wait_lines "$starts" 2
  local a=${WORKER_PIDS[0]}
  start_worker --slots 2
  wait_for_workers 2
  local t0
  t0=$(now)
  kill "-$1" "$a"
  wait_lines "$starts" 4
  local t1
  t1=$(tail -n 2 "$starts" | awk '{print $2}' | sort -n | tail -1)
  RECOVERY=$(elapsed "$t0" "$t1")
  kill -CONT "$a" 2>/dev/null || true
  # The mappers sleep without reading or writing, so they outlive a killed
  # worker; end them here.
  awk '{print $1}' "$starts" | xargs kill 2>/dev/null || true
  stop_cluster
}

bench_recovery() {
  echo "| worker death | runs | median | min | max |"
  echo "|---|---|---|---|---|"
  for signal in KILL STOP; do
    local times=()
    for _ in 1 2 3 4 5; do recovery_once "$signal"; times+=("$RECOVERY"); done
    python3 - "$signal" "${times[@]}" <<'PY'
import statistics, sys
how = {"KILL": "SIGKILL (session breaks)", "STOP": "SIGSTOP (2 s heartbeat timeout)"}[sys.argv[1]]
t = [float(x) for x in sys.argv[2:]]
print(f"| {how} | {len(t)} | {statistics.median(t):.3f}s | {min(t):.3f}s | {max(t):.3f}s |")
PY
  done
}

case $WHAT in
  wordcount) bench_wordcount ;;
  tasks) bench_tasks ;;
  scaling) bench_scaling ;;
  recovery) bench_recovery ;;
  all) bench_wordcount; bench_tasks; echo; bench_scaling; echo; bench_recovery ;;
  *) echo "usage: $0 [BUILD_DIR] [wordcount|tasks|scaling|recovery|all]" >&2; exit 2 ;;
esac
