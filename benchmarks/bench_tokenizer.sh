#!/bin/bash
# Usage: benchmarks/bench_tokenizer.sh CHECKOUT CORPUS OUT [TOKENIZER TOKENIZER] [SECONDS]   (char | lex | lex-any | lex-case)
# Side by side on the two cores, one thread each: the same recipe with two tokenizers (default:
# char and lex; lex-any keeps every frequent letter run, open words included), runic brain from
# scratch, SECONDS (300) each; then both evaluated on 500 test records and, where the corpus has
# one, 500 records of the novel split (words no training record holds).
set -u
cd "$1"   # a checkout with .venv
C=$2      # corpus
O=$3      # output folder
A=${4:-char}
B=${5:-lex}
S=${6:-300}
mkdir -p $O
for tk in $A $B; do
  OMP_NUM_THREADS=1 .venv/bin/helix train --brain runic --corpus $C --out $O/$tk --time-budget $S --schedule-by-time \
    --threads 1 --tokenizer $tk --progress off --quiet --no-stop-at-target --gate-floor 0 > $O/$tk.out 2>&1 &
done
wait
for split in test novel; do
  for tk in $A $B; do
    OMP_NUM_THREADS=1 .venv/bin/helix eval $O/$tk --corpus $C --split $split --limit 500 --json > $O/$tk.$split.json 2>$O/$tk.$split.err &
  done
  wait
done
for tk in $A $B; do
  .venv/bin/python - "$O" "$tk" "$C" <<'PY'
import json, sys
sys.path.insert(0, "src")
from helix.ml.data import load_records
from helix.ml.tokenizer import Tokenizer
o, tk, corpus = sys.argv[1], sys.argv[2], sys.argv[3]
st = json.load(open(f"{o}/{tk}/status.json"))
tok = json.load(open(f"{o}/{tk}/checkpoints/last/tokenizer.json"))
t = Tokenizer.from_dict(tok)
recs = load_records(corpus, "runic", "train")[:4000]
per_rec = sum(len(t.encode_example(r["src_fmt"], r["src"], r["tgt_fmt"], r["tgt"]).ids) for r in recs) / len(recs)
out = {}
for split in ("test", "novel"):
    try:
        r = json.load(open(f"{o}/{tk}.{split}.json"))
        out[split] = f"{r['overall']['exact_match'] * 100:.1f}% of {r['n']}"
    except (OSError, ValueError, KeyError):
        out[split] = "-"
print(f"{tk:8} vocabulary {len(tok['tokens']):>5}  tokens/record {per_rec:5.1f}  steps {st['step']:>6,}  {st['steps_per_s']:.2f} steps/s  "
      f"test exact {out['test']:>14}   novel exact {out['novel']:>14}")
PY
done
echo done
