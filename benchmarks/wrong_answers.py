"""Where a brain's wrong answers come from: search, fit, or generalisation.

    .venv/bin/python benchmarks/wrong_answers.py CHECKPOINT --corpus runs/corpus [--n 1100]
                                                 [--splits test train] [--threads 1]

For each split (a fixed random sample of ``--n`` records of the brain's corpus), greedy exact
match per target format; and for every wrong answer, whether the model gives the expected text a
higher log-probability than its own greedy answer. Only those answers could a better search
(beam, exact MAP) fix; the others are answers the model prefers. Comparing the train and test
splits separates "does not fit its training data yet" from "does not generalise to the held-out
combinations and numbers".

Then the test records **by why they are in test** (the rules of ``helix.corpus.splits``): a
held-out verb × noun combination, a held-out number (in a record that reads or writes LC-B, or
not), a program with no held-out part, or nothing held out (the random share of the split), and
the exact match of each group: it tells generalisation failures from plain misfit.

Then the **held-out numbers**: the records that read or write LC-B and hold a number (int or
float) that no LC-B training record of the brain's corpus holds, so the brain never saw its
binary encoding (signed LEB128, IEEE-754 bytes) and would have to compute it; how many of those
it gets right, and the exact match the brain would have if it got everything else right
(the ceiling those records leave).

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
from pathlib import Path

import torch

from helix.corpus.splits import heldout_combo, heldout_number, op_combos, value_ints, value_numbers
from helix.hlx import decode
from helix.ml.data import load_records
from helix.ml.generate import Brain
from helix.ml.tokenizer import route_for


def target_logprob(brain: Brain, rec: dict, text: str) -> float:
    """Sum of the log-probabilities of ``text`` (and the route tag, <eos>) after the prompt."""
    tok = brain.tokenizer
    route = route_for(rec["tgt_fmt"]) if brain.brain == "coordinator" else None
    enc = tok.encode_example(rec["src_fmt"], rec["src"], rec["tgt_fmt"], text, route=route)
    ids = torch.tensor(enc.ids)[None]
    with torch.no_grad():
        logp = brain.model(ids[:, :-1]).float().log_softmax(-1)[0]
    picked = logp.gather(1, ids[0, 1:, None])[:, 0]
    return float(picked[enc.prompt_len - 1 :].sum())


def numbers(rec: dict) -> set[tuple[str, float]]:
    """The ints and floats of a record's value (``value`` is its HLX form; programs have none)."""
    if rec.get("value") is None:
        return set()
    return {(type(x).__name__, x) for x in value_numbers(decode(rec["value"], "hlx"))}


def reads_or_writes_lcb(rec: dict) -> bool:
    return "lc_b" in (rec["src_fmt"], rec["tgt_fmt"])


def why_in_test(rec: dict, seed: int) -> str:
    """The group of a test record: held-out combination, held-out number (LC-B or not), program
    or nothing held out."""
    if rec.get("value") is None:
        return "program"
    value = decode(rec["value"], "hlx")
    if any(heldout_combo(c, seed) for c in op_combos(value)):
        return "held-out verb x noun"
    if any(heldout_number(n, seed) for n in value_ints(value)):
        return "held-out number, LC-B" if reads_or_writes_lcb(rec) else "held-out number"
    return "nothing held out"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--n", type=int, default=1100)
    ap.add_argument("--splits", nargs="+", default=["test", "train"])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    brain = Brain.load(a.checkpoint)
    print(f"{a.checkpoint}: {brain.brain} brain, greedy, {a.n} records per split")
    train_recs = load_records(a.corpus, brain.brain, "train")
    seen = set().union(*(numbers(r) for r in train_recs if reads_or_writes_lcb(r)))
    print(f"{'split':>6} {'format':>8} {'n':>5} {'exact':>7} {'wrong':>6} {'search could fix':>17}")
    held, groups = [], None
    seed = json.loads((Path(a.corpus) / "manifest.json").read_text())["seed"]
    for split in a.splits:
        recs = load_records(a.corpus, brain.brain, split)
        random.Random(0).shuffle(recs)
        recs = recs[: a.n]
        outs = brain.generate([(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in recs])
        n, right, fixable = collections.Counter(), collections.Counter(), collections.Counter()
        for r, g in zip(recs, outs):
            for key in ("all", r["tgt_fmt"]):
                n[key] += 1
                right[key] += g.text == r["tgt"]
            if g.text != r["tgt"] and target_logprob(brain, r, r["tgt"]) > target_logprob(brain, r, g.text):
                fixable["all"] += 1
                fixable[r["tgt_fmt"]] += 1
        for key in ["all"] + sorted(k for k in n if k != "all"):
            print(f"{split:>6} {key:>8} {n[key]:>5} {right[key] / n[key]:>7.1%} {n[key] - right[key]:>6} "
                  f"{fixable[key]:>17}")
        if split == "test":
            groups = collections.Counter()
            for r, g in zip(recs, outs):
                key = why_in_test(r, seed)
                groups[key, "n"] += 1
                groups[key, "right"] += g.text == r["tgt"]
        unseen = [(r, g.text == r["tgt"]) for r, g in zip(recs, outs)
                  if reads_or_writes_lcb(r) and numbers(r) - seen]
        lcb = sum(reads_or_writes_lcb(r) for r in recs)
        held.append((split, len(recs), lcb, len(unseen), sum(ok for _, ok in unseen)))
    if groups:
        print("\ntest records by why they are in test")
        print(f"{'group':>22} {'n':>5} {'exact':>7}")
        for key in sorted({k for k, _ in groups}):
            n = groups[key, "n"]
            print(f"{key:>22} {n:>5} {groups[key, 'right'] / n:>7.1%}")
    print("\nheld-out numbers: records reading or writing LC-B with a number no LC-B training record holds")
    print(f"{'split':>6} {'n':>5} {'LC-B':>5} {'held-out':>9} {'right':>6} {'ceiling':>8}")
    for split, total, lcb, k, ok in held:
        print(f"{split:>6} {total:>5} {lcb:>5} {k:>9} {ok:>6} {(total - k + ok) / total:>8.1%}")


if __name__ == "__main__":
    main()
