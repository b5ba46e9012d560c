#!/usr/bin/env bash
# What the cluster token and TLS cost: echo calls through the master (p50 and
# throughput, calls_bench) and the 128 MiB word count (2 workers, submitted to
# a running cluster), each on a plain cluster (no token, no TLS), on one with
# the token alone, and on one with a token and TLS everywhere (master,
# workers' shuffle servers, every client verifying a CA made here with
# openssl), one after the other in the same run. Prints markdown.
#
#   bench/security.sh [BUILD_DIR]
set -euo pipefail

BUILD=${1:-build}
source "$(dirname "$0")/lib.sh" security-bench
unset AMPMR_TOKEN_FILE

# A CA and a certificate for 127.0.0.1, and a token, all in $WORK.
(umask 077 && openssl rand -hex 32 > "$WORK/token")
ossl() { openssl "$@" 2>/dev/null; }
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ossl req -x509 "${EC[@]}" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 -subj /CN=bench-ca
ossl req "${EC[@]}" -keyout "$WORK/node.key" -out "$WORK/node.csr" -subj /CN=127.0.0.1
printf 'subjectAltName=IP:127.0.0.1\n' > "$WORK/san.ext"
ossl x509 -req -in "$WORK/node.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -out "$WORK/node.pem" -days 2 -extfile "$WORK/san.ext"

SECURE_SERVE=(--token-file "$WORK/token" --tls-cert "$WORK/node.pem" --tls-key "$WORK/node.key")
SECURE_DIAL=(--token-file "$WORK/token" --tls-ca "$WORK/ca.pem")

"$BIN/calls_bench" --serve-direct > "$WORK/direct.out" &
EXTRA_PIDS+=($!)
for _ in $(seq 200); do grep -q "serving on" "$WORK/direct.out" 2>/dev/null && break; sleep 0.05; done
DIRECT=$(sed -n 's/^calls_bench serving on //p' "$WORK/direct.out")

corpus 128 "$WORK/in"

# run MODE: prints "p50_us calls_per_s wordcount_s" for a cluster in MODE.
run() {
  local serve=() dial=() worker=()
  if [[ $1 == secure ]]; then
    serve=("${SECURE_SERVE[@]}"); dial=("${SECURE_DIAL[@]}")
    worker=("${SECURE_SERVE[@]}" --tls-ca "$WORK/ca.pem")
  elif [[ $1 == token ]]; then  # the token alone, no TLS
    serve=(--token-file "$WORK/token"); dial=(--token-file "$WORK/token")
    worker=(--token-file "$WORK/token")
  fi
  start_master --data-dir "$WORK/master-$1" "${serve[@]}"
  WORKER_PIDS=()
  start_worker --slots 2 --handler echo=builtin:echo "${worker[@]}"
  start_worker --slots 2 "${worker[@]}"
  for _ in $(seq 200); do
    [[ $("$BIN/ampmr" workers --master "$ADDR" "${dial[@]}" --json | wc -l) -ge 2 ]] && break
    sleep 0.05
  done
  "$BIN/calls_bench" --master "$ADDR" --direct "$DIRECT" --handler echo "${dial[@]}" \
    > "$WORK/calls-$1.md"
  local p50 tput
  p50=$(awk -F'|' '/latency p50, 1 caller/ {gsub(/[ us]/, "", $4); print $4}' "$WORK/calls-$1.md")
  tput=$(awk -F'|' '/throughput/ {gsub(/[ calls\/]/, "", $4); print $4}' "$WORK/calls-$1.md")
  rm -rf "$WORK/out-$1"
  local s e
  s=$(now)
  "$BIN/ampmr" submit --master "$ADDR" "${dial[@]}" --input "$WORK/in" --output "$WORK/out-$1" \
    --mapper builtin:wordcount --combiner builtin:sum --reducer builtin:sum --reduces 2 \
    --wait > /dev/null
  e=$(now)
  stop_cluster
  echo "$p50 $tput $(python3 -c "print(f'{$e - $s:.3f}')")"
}

read -r p_plain t_plain w_plain < <(run plain)
read -r p_tok t_tok w_tok < <(run token)
read -r p_sec t_sec w_sec < <(run secure)
cmp <(sort "$WORK"/out-plain/part-*) <(sort "$WORK"/out-secure/part-*) > /dev/null \
  || { echo "the two word counts differ" >&2; exit 1; }

echo "Machine: $(nproc) cores, $(uname -sr); load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| | plain (no token, no TLS) | token only | ratio | token + TLS | ratio |"
echo "|---|---:|---:|---:|---:|---:|"
python3 - "$p_plain" "$p_tok" "$p_sec" "$t_plain" "$t_tok" "$t_sec" "$w_plain" "$w_tok" "$w_sec" <<'PY'
import sys
pp, pk, ps, tp, tk, ts, wp, wk, ws = map(float, sys.argv[1:])
print(f"| echo call p50, 1 caller | {pp:.0f} us | {pk:.0f} us | {pk / pp:.2f}x | {ps:.0f} us | {ps / pp:.2f}x |")
print(f"| echo calls, 16 callers | {tp:,.0f}/s | {tk:,.0f}/s | {tk / tp:.2f}x | {ts:,.0f}/s | {ts / tp:.2f}x |")
print(f"| word count 128 MiB (submit to _SUCCESS) | {wp:.2f} s | {wk:.2f} s | {wk / wp:.2f}x | {ws:.2f} s | {ws / wp:.2f}x |")
PY
