#!/usr/bin/env bash
# bench/observe.sh [BUILD_DIR]: what seeing the cluster costs.
#   1. recording attempts: the coordinator-thread time of recording 20,000
#      attempts (attempt_log_bench) beside the 20,000-noop-task job's own
#      time (best of 3, 2 workers), measured in the same run;
#   2. master memory per recorded attempt;
#   3. the job page's API answers for a 100,000-task job: /api/v1/jobs/ID,
#      the first page of tasks and the timeline's 5,000 attempts (best of 5).
set -euo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/lib.sh" observe

start_cluster 2 --http 127.0.0.1:0
HTTP=$(sed -n 's|.*status page on http://\([^/]*\)/.*|\1|p' "$WORK/master.log" | head -1)

job_id() {  # LINES: submits a noop job of LINES tasks and waits; prints its id
  seq 1 "$1" > "$WORK/lines-$1.txt"
  "$BIN/ampmr" submit --master "$ADDR" --input "$WORK/lines-$1.txt" --output "$WORK/out-$RANDOM" \
    --mapper builtin:noop --reducer builtin:identity --split-size 1 --wait | head -1
}
job_seconds() {  # JOB
  "$BIN/ampmr" status --master "$ADDR" --json "$1" |
    python3 -c "import json,sys; s=json.load(sys.stdin); print(f\"{s['end_time']-s['start_time']:.4f}\")"
}

job_id 1000 > /dev/null  # warm up
best=1e9
for _ in 1 2 3; do
  t=$(job_seconds "$(job_id 20000)")
  best=$(python3 -c "print(min($best, $t))")
done
read -r _ n record < <("$BIN/attempt_log_bench" 20000 | grep '^record_seconds')
per=$("$BIN/attempt_log_bench" 20000 | sed -n 's/^record_ns_per_attempt //p')
bytes=$("$BIN/attempt_log_bench" 20000 | sed -n 's/^bytes_per_attempt //p')
python3 -c "print(f'| recording 20,000 attempts | {$record*1000:.1f} ms ({$per:.0f} ns each) | 20,000-noop-task job {$best*1000:.0f} ms | {100*$record/$best:.2f}% |')"
echo "| memory per recorded attempt | $bytes bytes |"

big=$(job_id 100000)
for path in "/api/v1/jobs/$big" "/api/v1/jobs/$big/tasks?limit=100" "/api/v1/jobs/$big/attempts?limit=5000" "/api/v1/jobs/$big/tasks?limit=100&failed_only=1"; do
  best=1e9
  for _ in 1 2 3 4 5; do
    t=$(curl -s -o /dev/null -w '%{time_total}' "http://$HTTP$path")
    best=$(python3 -c "print(min($best, $t))")
  done
  size=$(curl -s "http://$HTTP$path" | wc -c)
  python3 -c "print(f'| 100,000-task job: GET $path | {$best*1000:.1f} ms | {$size} bytes |')"
done
echo "| master peak RSS after the 100,000-task job | $(master_peak_kib) KiB |"
