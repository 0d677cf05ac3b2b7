"""Warmup-stable-decay against the cosine schedule, side by side in one run, for one brain.

A run to a target has no known length, so the CPU recipe uses warmup-stable-decay with the decay
started by the first plateau (helix.ml.stopping). This trains the same brain from the same start
twice, one run after the other on the same threads:

1. ``wsd``: the recipe as the main job runs it, to its confirmed target or its plateau;
2. ``cosine``: the schedule of the clock-bound recipe, a cosine over exactly the steps run 1
   took (the cosine needs its horizon: it is given the one the WSD run found), also stopping at
   the target;

then evaluates both on the test split and prints steps, seconds, the validation curve and test
exact match side by side. Usage (the specialists start from a coordinator, as in the main job)::

    python benchmarks/bench_schedule.py --brain ascii --corpus runs/corpus-n88000 \\
        --init-from runs/<run>/coordinator --threads 2 --out /tmp/bench_schedule
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brain", default="ascii")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--init-from", default=None, help="warm start (a coordinator run), as the main job does")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="/tmp/bench_schedule")
    ap.add_argument("--cap", type=float, default=1800, help="seconds per run at most")
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()

    import torch

    from helix.ml.config import default_train_config
    from helix.ml.evaluate import evaluate
    from helix.ml.precision import machine_summary
    from helix.ml.train import train
    from helix.system.launcher import FINE_TUNE_LR_FACTOR

    torch.set_num_threads(a.threads)
    base = default_train_config(a.brain, device="cpu")
    base = dataclasses.replace(base, corpus=a.corpus, num_threads=a.threads, seed=a.seed, time_cap_s=a.cap,
                               progress="off", mix="all" if a.brain == "coordinator" else "own")
    if a.init_from:
        base = dataclasses.replace(base, init_from=a.init_from, lr=base.lr * FINE_TUNE_LR_FACTOR)
    rows = []
    wsd_steps = None
    for name in ("wsd", "cosine"):
        out = Path(a.out) / name
        cfg = dataclasses.replace(base, out=str(out))
        if name == "cosine":
            cfg = dataclasses.replace(cfg, schedule="cosine", patience=0, max_steps=wsd_steps, warmup=base.warmup)
        t = time.time()
        s = train(cfg)
        wall = time.time() - t
        if name == "wsd":
            wsd_steps = s["step"]
        rep = evaluate(out / "checkpoints" / "best", corpus=a.corpus, split="test", limit=a.test_limit)
        rows.append({"schedule": name, "steps": s["step"], "train_s": round(s["elapsed_s"], 1), "wall_s": round(wall, 1),
                     "stop_reason": s["stop_reason"], "best_val_exact": s["best_val_exact_match"],
                     "test_exact": rep.get("target_exact_match", rep["overall"]["exact_match"]),
                     "test_n": rep["n"], "curve": s["curve"]})
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nmachine: {machine_summary()}  threads {a.threads}  brain {a.brain}  init {a.init_from}")
    print(f"{'schedule':<8} {'steps':>6} {'train s':>8} {'stop':>8} {'best val':>9} {'test exact':>11}")
    for r in rows:
        print(f"{r['schedule']:<8} {r['steps']:>6} {r['train_s']:>8.0f} {r['stop_reason']:>8} "
              f"{(r['best_val_exact'] or 0) * 100:>8.1f}% {r['test_exact'] * 100:>10.1f}%")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "bench_schedule.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
