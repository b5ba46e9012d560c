#!/usr/bin/env bash
# Across nodes: a master and two workers in network namespaces of their own
# (as on three machines joined by a switch), with 0, 50 and 200 ms added to
# each direction of every connection between nodes by ampmr_delay_proxy (this
# kernel has no tc netem), and how long a cut link takes to notice and heal.
#
#   sudo bench/nodes.sh [BUILD_DIR]     # needs root for ip netns
#
# Node i is namespace ampmr-bench-PID-nI at 10.202.0.(i+1). Every server
# listens on loopback inside its namespace; a proxy on the node's own address
# forwards to it with the delay, so all traffic between nodes is delayed:
# worker <-> master (10.202.0.1:7070) and reducer <-> shuffle (10.202.0.K:7100).
set -euo pipefail
BUILD=${1:-build}
source "$(dirname "$0")/lib.sh" nodes
IP=/usr/sbin/ip
PREFIX="ampmr-bench-$$-"
NODES=3
NS=()

net_cleanup() {
  for p in $MASTER_PID "${WORKER_PIDS[@]}" "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "${NS[@]}" "${PREFIX}br"; do $IP netns delete "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap net_cleanup EXIT

addr() { echo "10.202.0.$(( $1 + 1 ))"; }
in_node() { local n=$1; shift; $IP netns exec "${NS[$n]}" "$@"; }
# Started in the background with `$IP netns exec "$(ns N)" CMD &` rather than
# through in_node, so that $! is the process itself (ip netns exec execs it).
ns() { echo "${NS[$1]}"; }

make_net() {
  $IP netns add "${PREFIX}br"
  $IP -n "${PREFIX}br" link add br0 type bridge
  $IP -n "${PREFIX}br" link set br0 up
  for i in $(seq 0 $(( NODES - 1 ))); do
    NS+=("${PREFIX}n$i")
    $IP netns add "${NS[$i]}"
    $IP -n "${PREFIX}br" link add "v$i" type veth peer name eth0 netns "${NS[$i]}"
    $IP -n "${PREFIX}br" link set "v$i" master br0
    $IP -n "${PREFIX}br" link set "v$i" up
    $IP -n "${NS[$i]}" addr add "$(addr "$i")/24" dev eth0
    $IP -n "${NS[$i]}" link set eth0 up
    $IP -n "${NS[$i]}" link set lo up
  done
}

proxy() {  # NODE PORT DELAY_MS: NODE's address:PORT -> its 127.0.0.1:PORT
  $IP netns exec "$(ns "$1")" "$BIN/ampmr_delay_proxy" "$(addr "$1"):$2" "127.0.0.1:$2" "$3" \
    > "$WORK/proxy$1-$2.out" 2>&1 &
  EXTRA_PIDS+=($!)
  for _ in $(seq 200); do grep -qs listening "$WORK/proxy$1-$2.out" && return 0; sleep 0.02; done
  echo "proxy on node $1 did not start" >&2; exit 1
}

start_nodes() {  # DELAY_MS [SLOWSTART]
  local delay=$1 slowstart=${2:-0.05}
  proxy 0 7070 "$delay"
  $IP netns exec "$(ns 0)" "$BIN/ampmr-master" --listen 127.0.0.1:7070 --heartbeat-timeout 3 \
    --reduce-slowstart "$slowstart" > "$WORK/master.out" 2> "$WORK/master.log" &
  MASTER_PID=$!
  for _ in $(seq 200); do grep -q listening "$WORK/master.out" 2>/dev/null && break; sleep 0.05; done
  for n in 1 2; do
    proxy "$n" 7100 "$delay"
    $IP netns exec "$(ns "$n")" "$BIN/ampmr-worker" --master "$(addr 0):7070" \
      --shuffle-listen 127.0.0.1:7100 \
      --advertise-host "$(addr "$n")" --work-dir "$WORK/w$n" 2> "$WORK/worker$n.log" &
    WORKER_PIDS+=($!)
  done
  for _ in $(seq 400); do
    [[ $(in_node 0 "$BIN/ampmr" workers --master 127.0.0.1:7070 --json | wc -l) -ge 2 ]] && return 0
    sleep 0.05
  done
  echo "workers did not join" >&2; cat "$WORK"/worker*.log >&2; exit 1
}

stop_nodes() {
  kill $MASTER_PID "${WORKER_PIDS[@]}" "${EXTRA_PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  MASTER_PID=""; WORKER_PIDS=(); EXTRA_PIDS=()
}

job() {  # OUTPUT [FLAG...]: a 24-map 4-reduce word count; prints its wall time
  local out=$1; shift
  rm -rf "$out"
  local s e
  s=$(now)
  in_node 0 "$BIN/ampmr" submit --master 127.0.0.1:7070 --input "$WORK/in" --output "$out" \
    --mapper builtin:wordcount --combiner builtin:sum --reducer builtin:sum --reduces 4 \
    --split-size 64K "$@" --wait > /dev/null
  e=$(now)
  python3 -c "print(f'{$e - $s:.2f}')"
}

make_net
mkdir -p "$WORK/in"
# 24 map tasks: 24 files of 60,000 bytes (each one split), whole lines of books.
cat "$BOOKS"/* > "$WORK/books.txt"
python3 - "$WORK/books.txt" "$WORK/in" <<'PY'
import sys
books, out = open(sys.argv[1], 'rb').read(), sys.argv[2]
data = (books * (24 * 60000 // len(books) + 1))
for i in range(24):
    part = data[i * 60000:(i + 1) * 60000]
    open(f'{out}/part{i:02d}.txt', 'wb').write(part[:part.rfind(b'\n') + 1])
PY
maps=24

# Each delay twice: reduces only after the last map (--reduce-slowstart 1,
# as before slow start), and with slow start (the default, 0.05).
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| added delay per direction | round trip | reduces after the maps | over no delay | in round trips | slow start 0.05 | over no delay | in round trips |"
echo "|---|---|---|---|---|---|---|---|"
declare -A base=()
for delay in 0 50 200; do
  row="| ${delay} ms | $(( 2 * delay )) ms |"
  for slowstart in 1 0.05; do
    start_nodes "$delay" "$slowstart"
    best=""
    for _ in 1 2 3; do
      t=$(job "$WORK/out")
      if [[ -z $best ]] || python3 -c "import sys; sys.exit(0 if $t < $best else 1)"; then best=$t; fi
    done
    stop_nodes
    [[ -z ${base[$slowstart]:-} ]] && base[$slowstart]=$best
    rtt=$(( 2 * delay ))
    extra=$(python3 -c "print(f'{$best - ${base[$slowstart]}:+.2f}s')")
    rtts=$(python3 -c "print('-' if $rtt == 0 else f'{($best - ${base[$slowstart]}) * 1000 / $rtt:.1f}')")
    row+=" ${best}s | $extra | $rtts |"
  done
  echo "$row"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "($maps map tasks)"

# A cut link: worker 2's node is cut off while a longer job runs. Time until
# the master declares it lost (the job runs elsewhere), and from healing the
# link until the worker is back.
echo
start_nodes 0
head -c 4000000 "$WORK/books.txt" > "$WORK/in/big"
in_node 0 "$BIN/ampmr" submit --master 127.0.0.1:7070 --input "$WORK/in" --output "$WORK/cut" \
  --mapper builtin:wordcount --reducer builtin:sum --reduces 4 --split-size 16K > "$WORK/job"
sleep 0.5
cut=$(now)
$IP -n "${PREFIX}br" link set v2 down
for _ in $(seq 3000); do grep -q "worker lost" "$WORK/master.log" && break; sleep 0.01; done
lost=$(now)
in_node 0 "$BIN/ampmr" wait --master 127.0.0.1:7070 "$(head -1 "$WORK/job")" > /dev/null
heal=$(now)
$IP -n "${PREFIX}br" link set v2 up
for _ in $(seq 6000); do
  [[ $(in_node 0 "$BIN/ampmr" workers --master 127.0.0.1:7070 --json | wc -l) -ge 2 ]] && break
  sleep 0.01
done
back=$(now)
stop_nodes
echo "| link cut to the job running elsewhere (worker declared lost) | $(python3 -c "print(f'{$lost - $cut:.2f}')")s |"
echo "| link healed to the worker back | $(python3 -c "print(f'{$back - $heal:.2f}')")s |"
