# Shared by the bench scripts (sourced): a scratch directory, a master and
# workers started in the background, and corpora made of whole books.
#
#   BUILD=... source "$(dirname "$0")/lib.sh" PREFIX
#
# sets BIN, SRC, BOOKS and WORK (removed on exit, with every process started
# here or added to EXTRA_PIDS killed).
BIN=$(cd "${BUILD:-build}/bin" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BOOKS=${AMPMR_BENCH_BOOKS:-$SRC/../shared/data/gutenberg}
[[ -d $BOOKS ]] || BOOKS=/usr/share/common-licenses
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ampmr-${1:-bench}-XXXXXX")
MASTER_PID=""
WORKER_PIDS=()
EXTRA_PIDS=()
cleanup() {
  for p in $MASTER_PID "${WORKER_PIDS[@]}" "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }

start_master() {  # [MASTER_FLAG...]: sets ADDR and MASTER_PID
  "$BIN/ampmr-master" --listen 127.0.0.1:0 "$@" > "$WORK/master.out" 2> "$WORK/master.log" &
  MASTER_PID=$!
  for _ in $(seq 200); do grep -q listening "$WORK/master.out" 2>/dev/null && break; sleep 0.05; done
  ADDR=$(sed -n 's/^ampmr-master listening on //p' "$WORK/master.out")
  if [[ -z $ADDR ]]; then
    echo "the master did not start; its log:" >&2
    cat "$WORK/master.log" >&2
    exit 1
  fi
}

start_worker() {  # [WORKER_FLAG...]: one more worker; its pid is the last of WORKER_PIDS
  local i=${#WORKER_PIDS[@]}
  "$BIN/ampmr-worker" --master "$ADDR" --work-dir "$WORK/w$i" "$@" 2> "$WORK/worker$i.log" &
  WORKER_PIDS+=($!)
}

wait_for_workers() {  # N
  for _ in $(seq 200); do
    [[ $("$BIN/ampmr" workers --master "$ADDR" --json | wc -l) -ge $1 ]] && return 0
    sleep 0.05
  done
  echo "fewer than $1 workers joined" >&2
  exit 1
}

start_cluster() {  # WORKERS [MASTER_FLAG...]
  local workers=$1; shift
  start_master "$@"
  WORKER_PIDS=()
  for _ in $(seq "$workers"); do start_worker; done
  wait_for_workers "$workers"
}

master_peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$MASTER_PID/status"; }  # of the running master

stop_cluster() {
  kill $MASTER_PID "${WORKER_PIDS[@]}" 2>/dev/null || true
  wait $MASTER_PID "${WORKER_PIDS[@]}" 2>/dev/null || true
  MASTER_PID=""; WORKER_PIDS=()
}

# corpus MIB DIR: 8 files, together MIB MiB, of whole books repeated.
corpus() {
  local mib=$1 dir=$2
  mkdir -p "$dir"
  cat "$BOOKS"/* > "$WORK/books.txt"
  python3 - "$WORK/books.txt" "$dir" $(( mib * 1024 * 1024 / 8 )) <<'PY'
import sys
books, out, per = open(sys.argv[1], 'rb').read(), sys.argv[2], int(sys.argv[3])
data = (books * (per // len(books) + 1))[:per]
data = data[:data.rfind(b'\n') + 1]
for i in range(8):
    open(f'{out}/part{i}.txt', 'wb').write(data)
PY
}
