#!/usr/bin/env bash
# Streaming (exec:) word count benchmark: the Python scripts of
# examples/streaming as mapper and reducer, on 2 workers, against the same
# scripts run as the classic single-machine pipeline
#   cat FILES | mapper | LC_ALL=C sort | reducer
# (bytewise sort, the fastest; also timed with plain `sort`, which sorts by
# the locale's rules, C.UTF-8 on the project VM) on the same 32 MiB corpus (8 files of 4 MiB made from whole books), warm
# page cache for both, best of N wall times. Outputs are compared. Then one
# more run on a standing cluster to split the CPU time between the workers
# themselves (the framework) and their child processes (sh, python3), from
# /proc/PID/stat (utime+stime vs cutime+cstime). Prints markdown.
# The corpus is made from $AMPMR_BENCH_BOOKS, else the Gutenberg books beside
# the source tree, else /usr/share/common-licenses (a far smaller vocabulary:
# set AMPMR_BENCH_BOOKS to compare figures).
#
#   bench/streaming.sh [BUILD_DIR] [RUNS]
#
# PYTHON=/path/to/python3 runs the scripts with that interpreter instead of
# their #!/usr/bin/env python3 line (e.g. to skip a pyenv shim).
set -euo pipefail

BUILD=${1:-build}
RUNS=${2:-3}
source "$(dirname "$0")/lib.sh" streaming

MAPPER="$SRC/examples/streaming/wordcount_mapper.py"
REDUCER="$SRC/examples/streaming/wordcount_reducer.py"
if [[ -n ${PYTHON:-} ]]; then
  MAPPER="$PYTHON $MAPPER"
  REDUCER="$PYTHON $REDUCER"
fi

calc() { python3 -c "print(f'{$1:.${2:-3}f}')"; }

corpus 32 "$WORK/corpus"
cat "$WORK"/corpus/* > /dev/null  # warm the cache

pipeline() {
  cat "$WORK"/corpus/* | $MAPPER 2> /dev/null | LC_ALL=C sort | $REDUCER > "$WORK/pipeline.txt"
}
pipeline_locale_sort() {
  cat "$WORK"/corpus/* | $MAPPER 2> /dev/null | sort | $REDUCER > /dev/null
}
ampmr_run() {
  rm -rf "$WORK/out"
  "$BIN/ampmr" run --workers 2 --input "$WORK/corpus" --output "$WORK/out" \
    --mapper "exec:$MAPPER" --reducer "exec:$REDUCER" --reduces 2 > /dev/null
}

# Alternate them so that all see the same machine.
best_pipe="" best_locale="" best_ampmr=""
min() { if [[ -z $1 ]] || (( $(calc "$2 < $1" 0) )); then echo "$2"; else echo "$1"; fi; }
for _ in $(seq "$RUNS"); do
  s=$(now); pipeline; e=$(now); best_pipe=$(min "$best_pipe" "$(calc "$e - $s")")
  s=$(now); ampmr_run; e=$(now); best_ampmr=$(min "$best_ampmr" "$(calc "$e - $s")")
  s=$(now); pipeline_locale_sort; e=$(now); best_locale=$(min "$best_locale" "$(calc "$e - $s")")
done
if ! cmp -s <(sort "$WORK/pipeline.txt") <(cat "$WORK"/out/part-* | sort); then
  echo "streaming word count: OUTPUT DIFFERS from the pipeline" >&2
  exit 1
fi
echo "| streaming word count, 32 MiB, 8 files | pipeline, LC_ALL=C sort ${best_pipe}s | ampmr run, 2 workers ${best_ampmr}s | speed-up $(calc "$best_pipe / $best_ampmr" 2)x |"
echo "| the same, pipeline with plain sort (LANG=${LANG:-unset}) | ${best_locale}s | | speed-up $(calc "$best_locale / $best_ampmr" 2)x |"

# CPU split on a standing cluster: master + 2 workers, one job.
start_cluster 2
rm -rf "$WORK/out"
"$BIN/ampmr" submit --master "$ADDR" --input "$WORK/corpus" --output "$WORK/out" \
  --mapper "exec:$MAPPER" --reducer "exec:$REDUCER" --reduces 2 --wait > /dev/null
ticks=$(getconf CLK_TCK)
self=0 children=0
for p in "${WORKER_PIDS[@]}"; do
  read -r -a f < "/proc/$p/stat"
  # Fields 14-17 (utime stime cutime cstime); the command name has no spaces.
  self=$((self + f[13] + f[14]))
  children=$((children + f[15] + f[16]))
done
echo "| CPU, 2 workers | workers themselves $(calc "$self / $ticks" 2)s | their children (sh, python3) $(calc "$children / $ticks" 2)s | framework share $(calc "100 * $self / ($self + $children)" 1)% | workers/children $(calc "100 * $self / $children" 1)% |"
