#!/bin/bash
# Usage: benchmarks/bench_tokenizer.sh CHECKOUT CORPUS OUT (from a checkout with .venv).
# Side by side on the two cores, one thread each: the same recipe with the character and the
# lexical tokenizer, runic brain from scratch, 300 s each; then both evaluated on 500 test records.
set -u
cd "$1"   # a checkout with .venv
C=$2      # corpus
O=$3      # output folder
mkdir -p $O
for tk in char lex; do
  OMP_NUM_THREADS=1 .venv/bin/helix train --brain runic --corpus $C --out $O/$tk --time-budget 300 --schedule-by-time \
    --threads 1 --tokenizer $tk --progress off --quiet --no-stop-at-target --gate-floor 0 > $O/$tk.out 2>&1 &
done
wait
for tk in char lex; do
  OMP_NUM_THREADS=1 .venv/bin/helix eval $O/$tk --corpus $C --split test --limit 500 --json > $O/$tk.eval.json 2>$O/$tk.eval.err &
done
wait
echo done
