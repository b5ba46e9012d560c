#!/usr/bin/env bash
# The master at scale: many tasks, many workers, jobs sharing the cluster.
# Simulated workers come from bench's load_gen (real WorkerSession streams
# over real gRPC from one process, answering each task at once or after
# --task-ms), so what is measured is the master's own cost. Prints markdown.
#
#   bench/scale.sh [BUILD_DIR] [tasks|million|workers|latency|all]
#
# tasks    20,000 noop tasks with 2 real one-slot workers (tasks/s from the
#          job's start and end; the fastest of 3 jobs, with the CPU per task
#          the master and the workers spent on it, from /proc), beside the same
#          job on 2 simulated workers.
# million  999,999 noop tasks (+1 reduce) on 2 real workers: planning time
#          (submit to job id), job time, master peak RSS, RSS after the job.
# workers  1,000 simulated 2-slot workers: master CPU share for heartbeats
#          alone (10 s idle), then dispatches/s of a 100,000-task noop job.
# latency  a one-map job's wall time (submit --wait; its one reduce included)
#          alone, then behind a
#          running 10,000-task job, on 8 simulated 2-slot workers whose
#          tasks take 100 ms.
set -euo pipefail

BUILD=${1:-build}
WHAT=${2:-all}
source "$(dirname "$0")/lib.sh" scale
LOAD_GEN="$BIN/load_gen"

calc() { python3 -c "print(f'{$1:.${2:-3}f}')"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime
rss_kib() { awk "/$2/ {print \$2}" "/proc/$1/status"; }

start_load_gen() {  # WORKERS SLOTS TASK_MS
  "$LOAD_GEN" --master "$ADDR" --workers "$1" --slots "$2" --task-ms "$3" \
    > "$WORK/load_gen.out" 2> "$WORK/load_gen.log" &
  EXTRA_PIDS+=($!)
  for _ in $(seq 1200); do grep -q connected "$WORK/load_gen.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "load_gen did not connect; its log:" >&2
  cat "$WORK/load_gen.log" >&2
  exit 1
}
stop_load_gen() {
  for p in "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  EXTRA_PIDS=()
}

lines() {  # N: a file of N lines, one split each at --split-size 1
  [[ -f $WORK/lines-$1.txt ]] || seq 1 "$1" > "$WORK/lines-$1.txt"
  echo "$WORK/lines-$1.txt"
}

# noop_job N: submits N noop map tasks (+1 reduce), waits; prints
# "plan_seconds job_seconds tasks_per_second".
noop_job() {
  local input out="$WORK/out-$RANDOM$RANDOM" s e id
  input=$(lines "$1")
  s=$(date +%s.%N)
  id=$("$BIN/ampmr" submit --master "$ADDR" --input "$input" --output "$out" \
        --mapper builtin:noop --reducer builtin:identity --split-size 1 | head -1)
  e=$(date +%s.%N)
  "$BIN/ampmr" wait --master "$ADDR" "$id" > /dev/null
  "$BIN/ampmr" status --master "$ADDR" --json "$id" | python3 -c "
import json, sys
s = json.load(sys.stdin)
t = s['end_time'] - s['start_time']
print(f\"$(calc "$e - $s") {t:.3f} {s['map']['total'] / t:.0f}\")"
  rm -rf "$out"
}

# cpu_us_per_task TICKS TASKS: CPU microseconds per task.
cpu_us_per_task() { calc "$1 * 1000000 / $(getconf CLK_TCK) / $2" 1; }

# best_of_3_noop_jobs PID...: the fastest of three 20,000-task jobs, as
# "job_seconds tasks_per_second master_ticks other_ticks" (other: the PIDs').
best_of_3_noop_jobs() {
  local best="" t r m0 o0 m1 o1 p
  for _ in 1 2 3; do
    m0=$(cpu_ticks "$MASTER_PID"); o0=0
    for p in "$@"; do o0=$((o0 + $(cpu_ticks "$p"))); done
    read -r _ t r <<< "$(noop_job 20000)"
    m1=$(cpu_ticks "$MASTER_PID"); o1=0
    for p in "$@"; do o1=$((o1 + $(cpu_ticks "$p"))); done
    if [[ -z $best ]] || (( r > $(cut -d' ' -f2 <<< "$best") )); then
      best="$t $r $((m1 - m0)) $((o1 - o0))"
    fi
  done
  echo "$best"
}

bench_tasks() {
  echo "| 20,000 noop tasks (fastest of 3 jobs) | job time | tasks/s | master CPU per task | workers' CPU per task |"
  echo "|---|---|---|---|---|"
  start_master
  start_worker --slots 1; start_worker --slots 1
  wait_for_workers 2
  noop_job 1000 > /dev/null
  read -r t r m o <<< "$(best_of_3_noop_jobs "${WORKER_PIDS[@]}")"
  echo "| 2 real workers (1 slot each) | ${t} s | $r | $(cpu_us_per_task "$m" 20000) µs | $(cpu_us_per_task "$o" 20000) µs |"
  stop_cluster
  start_master
  start_load_gen 2 1 0
  noop_job 1000 > /dev/null
  read -r t r m o <<< "$(best_of_3_noop_jobs)"
  echo "| 2 simulated workers (1 slot each) | ${t} s | $r | $(cpu_us_per_task "$m" 20000) µs | (load_gen) |"
  stop_load_gen
  stop_cluster
}

bench_million() {
  echo "| 999,999 noop tasks, 2 real workers | planning | job time | tasks/s | master peak RSS | RSS after |"
  echo "|---|---|---|---|---|---|"
  start_master
  start_worker --slots 1; start_worker --slots 1
  wait_for_workers 2
  lines 999999 > /dev/null
  local before
  before=$(rss_kib "$MASTER_PID" VmRSS)
  read -r p t r <<< "$(noop_job 999999)"
  sleep 1
  echo "| (master RSS before: $((before / 1024)) MiB) | ${p} s | ${t} s | $r |" \
       "$(( $(rss_kib "$MASTER_PID" VmHWM) / 1024 )) MiB | $(( $(rss_kib "$MASTER_PID" VmRSS) / 1024 )) MiB |"
  stop_cluster
}

bench_workers() {
  start_master
  start_load_gen 1000 2 0
  local t0 c0 t1 c1 hz
  hz=$(getconf CLK_TCK)
  t0=$(date +%s.%N); c0=$(cpu_ticks "$MASTER_PID")
  sleep 10
  t1=$(date +%s.%N); c1=$(cpu_ticks "$MASTER_PID")
  echo "| 1,000 simulated workers (2 slots) | value |"
  echo "|---|---|"
  echo "| master CPU, heartbeats alone (10 s idle) | $(calc "100 * ($c1 - $c0) / $hz / ($t1 - $t0)" 1)% of a core |"
  noop_job 1000 > /dev/null
  c0=$(cpu_ticks "$MASTER_PID")
  read -r p t r <<< "$(noop_job 100000)"
  c1=$(cpu_ticks "$MASTER_PID")
  echo "| 100,000 noop tasks: job time | ${t} s |"
  echo "| dispatches/s (tasks/s) | $r |"
  echo "| master CPU for the job | $(calc "($c1 - $c0) / $hz" 2) s |"
  echo "| master peak RSS | $(( $(rss_kib "$MASTER_PID" VmHWM) / 1024 )) MiB |"
  stop_load_gen
  stop_cluster
}

# one_task_job: wall seconds of submit --wait of a one-task noop job.
one_task_job() {
  local out="$WORK/one-$RANDOM$RANDOM" s e
  s=$(date +%s.%N)
  "$BIN/ampmr" submit --master "$ADDR" --input "$(lines 1)" --output "$out" \
    --mapper builtin:noop --wait > /dev/null
  e=$(date +%s.%N)
  rm -rf "$out"
  calc "$e - $s"
}

bench_latency() {
  start_master
  start_load_gen 8 2 100
  local alone behind id
  one_task_job > /dev/null
  alone=$(one_task_job)
  id=$("$BIN/ampmr" submit --master "$ADDR" --input "$(lines 10000)" --output "$WORK/big-out" \
        --mapper builtin:noop --reducer builtin:identity --split-size 1 | head -1)
  sleep 2  # the big job holds every slot
  behind=$(one_task_job)
  local big
  big=$("$BIN/ampmr" status --master "$ADDR" --json "$id" | python3 -c "
import json, sys; s = json.load(sys.stdin); print(f\"{s['state']} {s['map']['done']}/{s['map']['total']}\")")
  echo "| one-task job, 16 slots, tasks of 100 ms | wall time |"
  echo "|---|---|"
  echo "| alone | ${alone} s |"
  echo "| behind a 10,000-task job (then at $big) | ${behind} s |"
  "$BIN/ampmr" cancel --master "$ADDR" "$id" > /dev/null
  stop_load_gen
  stop_cluster
}

case $WHAT in
  tasks) bench_tasks ;;
  million) bench_million ;;
  workers) bench_workers ;;
  latency) bench_latency ;;
  all) bench_tasks; echo; bench_million; echo; bench_workers; echo; bench_latency ;;
  *) echo "usage: $0 [BUILD_DIR] [tasks|million|workers|latency|all]" >&2; exit 2 ;;
esac
