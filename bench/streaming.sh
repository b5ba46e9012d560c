#!/usr/bin/env bash
# Streaming (exec:) word count benchmark: the Python scripts of
# examples/streaming as mapper and reducer, on 2 workers, against the same
# scripts run as the classic single-machine pipeline
#   cat FILES | mapper | LC_ALL=C sort | reducer
# (bytewise sort, the fastest; also timed with plain `sort`, which sorts by
# the locale's rules, C.UTF-8 on the project VM) on the same 32 MiB corpus (8 files of 4 MiB made from whole books), warm
# page cache for both, best of N wall times. Outputs are compared. Then
# CPU_JOBS (default 3) more jobs on a standing cluster, each split between
# the workers themselves (the framework) and their child processes (sh,
# python3), from /proc/PID/stat (utime+stime vs cutime+cstime); with
# BASELINE=OTHER_BUILD_DIR, alternated with that build (CPU_ROUNDS rounds).
# Prints markdown.
# The corpus is made from $AMPMR_BENCH_BOOKS, else the Gutenberg books beside
# the source tree, else /usr/share/common-licenses (a far smaller vocabulary:
# set AMPMR_BENCH_BOOKS to compare figures).
#
#   [BASELINE=OTHER_BUILD_DIR] bench/streaming.sh [BUILD_DIR] [RUNS]
#
# RUNS=0 skips the timings (the pipeline runs once, for the reference output).
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
if (( RUNS > 0 )); then
  if ! cmp -s <(sort "$WORK/pipeline.txt") <(cat "$WORK"/out/part-* | sort); then
    echo "streaming word count: OUTPUT DIFFERS from the pipeline" >&2
    exit 1
  fi
  echo "| streaming word count, 32 MiB, 8 files | pipeline, LC_ALL=C sort ${best_pipe}s | ampmr run, 2 workers ${best_ampmr}s | speed-up $(calc "$best_pipe / $best_ampmr" 2)x |"
  echo "| the same, pipeline with plain sort (LANG=${LANG:-unset}) | ${best_locale}s | | speed-up $(calc "$best_locale / $best_ampmr" 2)x |"
else
  pipeline  # RUNS=0: no timings, only the CPU split; its output is the reference
fi

# CPU split on a standing cluster: master + 2 workers, CPU_JOBS jobs one
# after another, each measured alone (the workers' /proc/PID/stat before and
# after it). The framework's CPU is the workers' own utime+stime; their
# children's (sh, python3: the mapper and reducer) is cutime+cstime. With
# BASELINE=OTHER_BUILD_DIR the same is done with that build too, the two
# alternated CPU_ROUNDS times (default 3), so that both see the same machine.
CPU_JOBS=${CPU_JOBS:-3}
ticks=$(getconf CLK_TCK)
worker_ticks() {  # prints the workers' own ticks and their children's
  local self=0 children=0 p f
  for p in "${WORKER_PIDS[@]}"; do
    read -r -a f < "/proc/$p/stat"
    # Fields 14-17 (utime stime cutime cstime); the command name has no spaces.
    self=$((self + f[13] + f[14]))
    children=$((children + f[15] + f[16]))
  done
  echo "$self $children"
}
cpu_split() {  # BIN_DIR LABEL
  local saved=$BIN s0 c0 s1 c1 j
  BIN=$1
  start_cluster 2
  for j in $(seq "$CPU_JOBS"); do
    read -r s0 c0 < <(worker_ticks)
    rm -rf "$WORK/out"
    "$BIN/ampmr" submit --master "$ADDR" --input "$WORK/corpus" --output "$WORK/out" \
      --mapper "exec:$MAPPER" --reducer "exec:$REDUCER" --reduces 2 --wait > /dev/null
    read -r s1 c1 < <(worker_ticks)
    if ! cmp -s <(sort "$WORK/pipeline.txt") <(cat "$WORK"/out/part-* | sort); then
      echo "streaming word count ($2): OUTPUT DIFFERS from the pipeline" >&2
      exit 1
    fi
    local self=$((s1 - s0)) children=$((c1 - c0))
    echo "| CPU, 2 workers, $2, job $j | framework (the workers themselves) $(calc "$self / $ticks" 2)s | their children (sh, python3) $(calc "$children / $ticks" 2)s | framework/children $(calc "100 * $self / $children" 1)% (goal < 10%) | framework/all $(calc "100 * $self / ($self + $children)" 1)% |"
  done
  stop_cluster
  BIN=$saved
}
if [[ -n ${BASELINE:-} ]]; then
  baseline_bin=$(cd "$BASELINE/bin" && pwd)
  for _ in $(seq "${CPU_ROUNDS:-3}"); do
    cpu_split "$baseline_bin" "baseline $BASELINE"
    cpu_split "$BIN" "$BUILD"
  done
else
  cpu_split "$BIN" "$BUILD"
fi
