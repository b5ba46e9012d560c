#!/usr/bin/env bash
# Sort benchmark (issue 12): 1 GiB of 100-byte records (10-byte random keys),
# `ampmr run --total-order` (identity mapper and reducer, 2 workers, 4 reduces;
# cluster start, sampling and commit included) against
# `LC_ALL=C sort --parallel=2 -S 2G` on the same files; outputs compared.
# Then the cost of --sort-key (the comparator path, "-k1,1", same order)
# against the bytewise radix path, and word count over gzip'd input against
# the same files uncompressed.
#
#   bench/sort.sh BUILD_DIR [SIZE_MIB] [RUNS]
set -euo pipefail
BUILD=${1:-build}
SIZE_MIB=${2:-1024}
RUNS=${3:-1}
source "$(dirname "$0")/lib.sh" sort

mkdir -p "$WORK/in"
# 8 files; each record: 10 printable key bytes, TAB, 88 filler bytes, newline.
python3 - "$WORK/in" "$SIZE_MIB" <<'PY'
import os, sys
out, mib = sys.argv[1], int(sys.argv[2])
records = mib * (1 << 20) // 100
per_file = records // 8
table = bytes(range(33, 127)) * 3
for f in range(8):
    with open(os.path.join(out, "part%d" % f), "wb") as w:
        left = per_file
        while left:
            n = min(left, 100000)
            raw = os.urandom(10 * n).translate(bytes(table[b] for b in range(256)))
            filler = b"\t" + (b"%c" % (97 + f)) * 88 + b"\n"
            w.write(b"".join(raw[i * 10:i * 10 + 10] + filler for i in range(n)))
            left -= n
PY

best() { sort -n | head -1; }

run_ampmr() {  # OUT [FLAGS...]: seconds
  local out=$1; shift
  rm -rf "$out"
  local t0; t0=$(now)
  "$BIN/ampmr" run --workers 2 --input "$WORK/in" --output "$out" --mapper builtin:identity \
    --reducer builtin:identity --reduces 4 --total-order "$@" > "$WORK/run.log"
  echo "$(now) - $t0" | bc
}

gnu=(); ours=(); keyed=()
for _ in $(seq "$RUNS"); do
  t0=$(now)
  LC_ALL=C sort --parallel=2 -S 2G -T "$WORK" "$WORK"/in/* > "$WORK/gnu.txt"
  gnu+=("$(echo "$(now) - $t0" | bc)")
  ours+=("$(run_ampmr "$WORK/out")")
  cmp -s "$WORK/gnu.txt" <(cat "$WORK"/out/part-*) || { echo "ampmr output differs from sort's" >&2; exit 1; }
  rm -rf "$WORK/out"
  keyed+=("$(run_ampmr "$WORK/out" --sort-key -k1,1)")
  cmp -s "$WORK/gnu.txt" <(cat "$WORK"/out/part-*) || { echo "--sort-key output differs" >&2; exit 1; }
  rm -rf "$WORK/out"
done
rm -f "$WORK/gnu.txt"
g=$(printf '%s\n' "${gnu[@]}" | best)
o=$(printf '%s\n' "${ours[@]}" | best)
k=$(printf '%s\n' "${keyed[@]}" | best)
echo "sort ${SIZE_MIB} MiB: LC_ALL=C sort --parallel=2 -S 2G ${g}s; ampmr --total-order ${o}s ($(echo "scale=2; $g / $o" | bc)x); with --sort-key -k1,1 ${k}s ($(echo "scale=2; $k / $o" | bc)x the bytewise run)"
rm -rf "$WORK/in"

# Word count over gzip'd input against the same files uncompressed.
mkdir -p "$WORK/gz"
corpus 128 "$WORK/books"
for f in "$WORK"/books/*; do gzip -c "$f" > "$WORK/gz/$(basename "$f").gz"; done
wc_run() {  # INPUT: seconds
  rm -rf "$WORK/wc"
  local t0; t0=$(now)
  "$BIN/ampmr" run --workers 2 --input "$1" --output "$WORK/wc" --mapper builtin:wordcount \
    --combiner builtin:sum --reducer builtin:sum --reduces 2 > /dev/null
  echo "$(now) - $t0" | bc
}
plain=(); zipped=()
for _ in $(seq "$RUNS"); do
  plain+=("$(wc_run "$WORK/books")")
  sort "$WORK"/wc/part-* > "$WORK/wc-plain.txt"
  zipped+=("$(wc_run "$WORK/gz")")
  cmp -s "$WORK/wc-plain.txt" <(sort "$WORK"/wc/part-*) || { echo "gzip word count differs" >&2; exit 1; }
done
p=$(printf '%s\n' "${plain[@]}" | best)
z=$(printf '%s\n' "${zipped[@]}" | best)
echo "word count 128 MiB: plain ${p}s, gzip'd $(du -sm "$WORK/gz" | cut -f1) MiB ${z}s ($(echo "scale=2; $z / $p" | bc)x)"
