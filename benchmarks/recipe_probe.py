"""Recipe probe: train one tiny brain for a fixed number of seconds and print test exact match
at even points of the budget. Used to compare CPU recipes side by side (docs/BRAINS.md).

    python benchmarks/recipe_probe.py --corpus C --brain runic --seconds 300
    python benchmarks/recipe_probe.py --corpus C --brain runic --seconds 300 --opt adamw --bs 8
    python benchmarks/recipe_probe.py --corpus C --brain ascii --seconds 378 --init-from CKPT --lr 2.5e-4 --muon-lr 2.5e-3

The defaults are the tiny CPU recipe (Muon 0.01 + AdamW 1e-3, batch 32, the tiny shape).

The loop is deliberately lean (no checkpoints, gates or status files) and the clock counts
training steps only, so probes that run side by side compare recipes, not bookkeeping. Model,
tokenizer, batching, loss and greedy decoding are the library's own (``helix.ml``). The learning
rate warms up and follows a cosine over the time budget, like ``helix train --schedule-by-time``.
Test exact match is measured on a fixed random subset of the test split (``--evaln``).
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch

from helix.ml.config import ModelConfig, TrainConfig
from helix.ml.data import collate, encode_records, epoch_batches, load_records
from helix.ml.generate import generate_requests
from helix.ml.model import GPT, loss_fn
from helix.ml.optim import build_optimizer, set_lr
from helix.ml.tokenizer import Tokenizer
from helix.ml.train import lr_at


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", required=True)
    p.add_argument("--brain", default="runic", choices=["coordinator", "ascii", "runic", "all"],
                   help="all: one model on the three training sets together, scored on each test set")
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--d", type=int, default=192)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--ff", type=int, default=768)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--prev", type=int, default=0, help="previous-token embedding (1/0)")
    p.add_argument("--run-pos", type=int, default=24, help="run-position embedding size (0 = off)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--wd", type=float, default=0.05)
    p.add_argument("--warmup", type=float, default=0.03, help="fraction of the budget")
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--evaln", type=int, default=300)
    p.add_argument("--evals", type=int, default=4, help="evaluations over the budget")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--show-wrong", type=int, default=0, help="print this many wrong answers at the end")
    p.add_argument("--opt", default="muon", choices=["adamw", "muon"],
                   help="muon: torch.optim.Muon on the blocks' matrices, AdamW on the rest")
    p.add_argument("--muon-lr", type=float, default=0.01)
    p.add_argument("--ns-steps", type=int, default=5, help="Muon's Newton-Schulz iterations")
    p.add_argument("--init-from", default=None, help="start from this checkpoint's weights (its shape wins)")
    a = p.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    tok = Tokenizer()
    brains = ["coordinator", "ascii", "runic"] if a.brain == "all" else [a.brain]
    train, test = [], []
    for b in brains:
        train += encode_records(load_records(a.corpus, b, "train"), tok, b, 256).examples
        t = load_records(a.corpus, b, "test")
        random.Random(0).shuffle(t)
        test += [dict(r, brain=b) for r in t[: a.evaln // len(brains)]]
    if a.init_from:
        from helix.ml.checkpoint import load_checkpoint

        ck = load_checkpoint(a.init_from)
        model = GPT(ck["model_cfg"])
        model.load_state_dict(ck["state_dict"])
    else:
        model = GPT(ModelConfig(d_model=a.d, n_layers=a.layers, d_ff=a.ff, n_heads=a.heads,
                                prev_token=bool(a.prev), run_pos=a.run_pos))
    opt = build_optimizer(model, kind=a.opt, lr=a.lr, weight_decay=a.wd, betas=(0.9, 0.95),
                          muon_lr_mult=a.muon_lr / a.lr, muon_ns_steps=a.ns_steps)
    lengths = [len(e.ids) for e in train]
    sched = TrainConfig(lr=a.lr, min_lr=a.min_lr, warmup=a.warmup, schedule_by_time=True)

    def exact_match():
        model.eval()
        gens = []
        for b in brains:
            rs = [r for r in test if r["brain"] == b]
            gens += generate_requests(model, tok, b, [(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in rs])
        model.train()
        by: dict[str, list[bool]] = {}
        for r, g in zip(test, gens):
            key = r["tgt_fmt"] if len(brains) == 1 else r["brain"]
            by.setdefault(key, []).append(g.text == r["tgt"])
        wrong = [(r, g.text) for r, g in zip(test, gens) if g.text != r["tgt"]]
        total = sum(sum(v) for v in by.values()) / len(test)
        return total, {k: round(sum(v) / len(v), 3) for k, v in sorted(by.items())}, wrong

    clock, step, epoch = 0.0, 0, 0
    marks = [a.seconds * (i + 1) / a.evals for i in range(a.evals)]
    curve, wrong = [], []
    while clock < a.seconds:
        for bidx in epoch_batches(lengths, a.bs, a.seed, epoch):
            t0 = time.perf_counter()
            lr = lr_at(sched, step, 0, time_frac=min(1.0, clock / a.seconds))
            set_lr(opt, lr)
            inp, tgt, w = collate([train[i] for i in bidx], tok.pad_id, multiple=8)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(inp)
            loss = loss_fn(logits, tgt, w) / w.sum()
            loss.backward()
            if a.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            clock += time.perf_counter() - t0
            if marks and clock >= marks[0]:
                marks.pop(0)
                em, by, wrong = exact_match()
                curve.append({"train_s": round(clock), "step": step, "epoch": epoch,
                              "exact": round(em, 4), "by_format": by})
                print(f"t={clock:.0f}s step={step} epoch={epoch} test exact {em:.1%} {by}", flush=True)
            if clock >= a.seconds:
                break
        epoch += 1
    for r, out in wrong[: a.show_wrong]:
        print(f"WRONG {r['src'][:70]!r} → {out[:90]!r} (expected {r['tgt'][:90]!r})")
    print(json.dumps({"args": vars(a), "curve": curve}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
