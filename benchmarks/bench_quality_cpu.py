"""CPU quality benchmark: train the tiny presets of the three brains and report the
time-to-accuracy curve (test-split exact match after each epoch against training time).

    nice python benchmarks/bench_quality_cpu.py --corpus CORPUS_DIR --out /tmp/hq
    nice python benchmarks/bench_quality_cpu.py --build-size 20000 --out /tmp/hq   # builds a corpus

Training time is what ``helix train`` spends (including its per-epoch validation and gates);
the per-epoch test evaluation of the curve runs afterwards on the saved epoch checkpoints and is
not counted. Target: each brain >= 90% test exact match, all three within 20 minutes in total.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from helix.ml.config import default_train_config
from helix.ml.evaluate import evaluate
from helix.ml.generate import Brain
from helix.ml.train import train
from helix.util import atomic_write_json


def build_corpus(out: Path, size: int | None, seed: int) -> Path:
    cmd = [sys.executable, "-m", "helix", "corpus", "build", "--out", str(out), "--seed", str(seed)]
    if size:
        cmd += ["--size", str(size)]
    print("building corpus:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--build-size", type=int, default=None, help="build a corpus of this size first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--brains", default="coordinator,ascii,runic")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--time-budget", type=float, default=None,
                    help="seconds per brain; the cosine schedule then follows the time (schedule_by_time)")
    ap.add_argument("--test-limit", type=int, default=1000, help="test records per curve point")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], help="override a TrainConfig field: NAME=JSON")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    corpus = a.corpus or build_corpus(a.out / "corpus", a.build_size, a.seed)
    results = {}
    total_train_s = 0.0
    for brain in a.brains.split(","):
        cfg = default_train_config(brain, None, "cpu")
        upd = dict(corpus=str(corpus), out=str(a.out / f"run_{brain}"), keep_last=1000, echo=True,
                   progress="off", num_threads=a.threads)
        if a.epochs:
            upd["epochs"] = a.epochs
        if a.max_steps:
            upd["max_steps"] = a.max_steps
        if a.time_budget:
            upd["time_budget_s"] = a.time_budget
            upd["schedule_by_time"] = True
            upd["epochs"] = a.epochs or 100
        for s in a.set:
            k, v = s.split("=", 1)
            upd[k] = json.loads(v)
        cfg = dataclasses.replace(cfg, **upd)
        print(f"== {brain}: preset {cfg.preset} epochs {cfg.epochs} batch {cfg.batch_size} lr {cfg.lr} "
              f"amp {cfg.amp}", flush=True)
        t0 = time.time()
        summary = train(cfg)
        wall = time.time() - t0
        total_train_s += summary["elapsed_s"]
        # time-to-accuracy: test exact match of each epoch checkpoint
        curve = []
        ck = Path(cfg.out) / "checkpoints"
        for d in sorted(ck.glob("epoch_*")):
            meta = json.loads((d / "meta.json").read_text())
            rep = evaluate(d, corpus=corpus, split="test", limit=a.test_limit)
            curve.append({"epoch": meta["epoch"], "train_s": meta["elapsed_s"],
                          "test_exact_match": rep["overall"]["exact_match"],
                          "val_sample_exact_match": meta["val_exact_match"], "val_loss": meta["val_loss"]})
            print(f"   {brain} epoch {meta['epoch']:>3} t={meta['elapsed_s']:7.1f}s test exact "
                  f"{rep['overall']['exact_match']:.4f} (val sample {meta['val_exact_match']})", flush=True)
        for line in (Path(cfg.out) / "metrics.jsonl").read_text().splitlines():
            m = json.loads(line)
            if m["kind"] in ("eval", "epoch") and m.get("val_exact_match") is not None:
                curve.append({"kind": m["kind"], "step": m["step"], "train_s": m["elapsed_s"],
                              "val_sample_exact_match": m["val_exact_match"]})
                print(f"   {brain} step {m['step']:>5} t={m['elapsed_s']:7.1f}s val-sample exact "
                      f"{m['val_exact_match']:.3f}", flush=True)
        best = Brain.load(ck / "best")
        full = evaluate(ck / "best", corpus=corpus, split="test", brain=best, examples=10)
        results[brain] = {"summary": {k: v for k, v in summary.items() if k != "gates"},
                          "wall_s": wall, "curve": curve, "test": full, "config": cfg.to_dict()}
        print(f"== {brain}: {summary['status']} train {summary['elapsed_s']:.1f}s; best checkpoint "
              f"(epoch {summary['best_epoch']}) test exact match {full['overall']['exact_match']:.4f} "
              f"semantic {full['overall']['semantic_match']} validity {full['overall']['validity']} "
              f"n={full['n']}", flush=True)
        atomic_write_json(a.out / "quality.json", {"results": results, "total_train_s": total_train_s})
    print("\nbrain         train_s  test_exact  n")
    for b, r in results.items():
        print(f"{b:<12} {r['summary']['elapsed_s']:8.1f}  {r['test']['overall']['exact_match']:.4f}     "
              f"{r['test']['n']}")
    print(f"total training time {total_train_s:.1f}s ({total_train_s / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
