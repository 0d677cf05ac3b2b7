"""Time to target of one brain, measured the way MLPerf Training measures it (issue 28).

    .venv/bin/python benchmarks/bench_time_to_target.py --corpus runs/corpus-n88000-open0.5 --proxy
    .venv/bin/python benchmarks/bench_time_to_target.py --corpus C --brain ascii --init-from RUN/coordinator/checkpoints/best
    .venv/bin/python benchmarks/bench_time_to_target.py --corpus C --proxy --arm "wd0=--set weight_decay=0.0"

One brain, the shipped CPU recipe (``default_train_config``), a fixed seed per run, trained until
its validation sample reaches ``--threshold`` (confirmed on ``--confirm`` val records) or the cap
of seconds. The clock is wall time from the first step to the confirmed evaluation, evaluations
included (MLPerf counts them). Each run prints steps, records, tokens, training FLOPs, and the
seconds (and steps) at which the validation sample first reached 20 / 40 / 50 / 70 / 80 / 90%, with the
machine and the precision the probe chose.

``--proxy``: the coordinator to 40%, the validation sample every 100 steps (the recipe's patience
kept in steps), a 600 s cap: about 4 minutes a run on machine B (about 2,000 steps), so that a
lever and its baseline, two seeds each, fit in one session. (On machine A, 2.65 steps/s, the
same steps take about 13 minutes: no meaningful exact-match threshold is reached in 5.) ``--arm NAME=SETTINGS``
(repeatable) runs each arm for every seed, one run at a time (never two timed runs at once):
SETTINGS are ``--set field=value`` pairs of ``TrainConfig`` (JSON values), e.g.
``--arm "wd0=--set weight_decay=0.0"``; the baseline arm ``recipe`` always runs first.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

LEVELS = (0.2, 0.4, 0.5, 0.7, 0.8, 0.9)


def machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{name}, {os.cpu_count()} logical CPUs"


def parse_arm(spec: str) -> tuple[str, dict]:
    """``NAME=--set k=v --set k2=v2`` → (NAME, {k: v, ...}); values are JSON (else strings)."""
    name, _, rest = spec.partition("=")
    if not name or not rest:
        raise SystemExit(f"--arm needs NAME=SETTINGS, not {spec!r}")
    toks, out = shlex.split(rest), {}
    if len(toks) % 2:
        raise SystemExit(f"--arm {name}: settings come as '--set field=value' pairs")
    fields = {f.name for f in dataclasses.fields(_config_cls())}
    for flag, kv in zip(toks[::2], toks[1::2]):
        k, _, v = kv.partition("=")
        if flag != "--set" or k not in fields:
            raise SystemExit(f"--arm {name}: unknown setting {flag} {kv!r} (TrainConfig fields: --set field=value)")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return name, out


def _config_cls():
    from helix.ml.config import TrainConfig

    return TrainConfig


def levels_from_metrics(path: Path) -> dict:
    """First (step, seconds) at which the validation sample reached each level."""
    out = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") != "eval" or rec.get("val_exact_match") is None:
            continue
        for lv in LEVELS:
            if lv not in out and rec["val_exact_match"] >= lv:
                out[lv] = {"step": rec["step"], "seconds": round(rec["elapsed_s"], 1)}
    return out


def one_run(args, seed: int, settings: dict, out: Path) -> dict:
    from helix.ml.config import default_train_config
    from helix.ml.train import train

    base = default_train_config(args.brain, args.preset, "cpu")
    every = args.eval_every or base.eval_every_steps
    # denser validation samples than the recipe's: the same patience in steps, so that the
    # schedule (its decay starts at the first plateau) is the recipe's
    patience = max(1, round(base.patience * base.eval_every_steps / every)) if base.patience else 0
    cfg = dataclasses.replace(
        base, corpus=str(args.corpus), out=str(out), seed=seed, stop_at_target=True,
        gate_min_exact=args.threshold, stop_margin=0.0, time_cap_s=args.cap, confirm_sample=args.confirm,
        eval_every_steps=every, patience=patience, eval_sample=args.eval_sample,
        num_threads=args.threads, progress="off", save_every_s=None, gate_floor=0.0,
        init_from=str(args.init_from) if args.init_from else None,
        **({"lr": args.lr} if args.lr else {}),
    )
    cfg = dataclasses.replace(cfg, **settings)
    t = time.perf_counter()
    summ = train(cfg)
    wall = time.perf_counter() - t
    tt = summ.get("time_to_target")
    return {
        "seed": seed, "settings": settings, "wall_s": round(wall, 1), "stop_reason": summ["stop_reason"],
        "reached": tt is not None, "seconds_to_target": tt["seconds"] if tt else None,
        "steps_to_target": tt["steps"] if tt else None, "steps": summ["step"], "records": summ.get("records"),
        "tokens": summ.get("real_tokens"), "train_flops": summ.get("train_flops"),
        "levels": {str(k): v for k, v in levels_from_metrics(out / "metrics.jsonl").items()},
        "best_val_exact_match": summ.get("best_val_exact_match"), "precision": summ.get("precision"),
    }


def fmt_row(arm: str, r: dict) -> str:
    lv = " ".join(f"{(r['levels'].get(str(k)) or {}).get('seconds', '-'):>6}" for k in LEVELS)
    tgt = f"{r['seconds_to_target']:>7}" if r["reached"] else f"{'>' + str(int(r['wall_s'])):>7}"
    return (f"{arm:<14} {r['seed']:>4} {tgt} {r['steps_to_target'] or r['steps']:>6} {r['records'] or 0:>8,} "
            f"{(r['tokens'] or 0) / 1e6:>7.2f}M {(r['train_flops'] or 0) / 1e12:>7.2f}T  {lv}  {r['stop_reason']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--brain", default="coordinator")
    ap.add_argument("--preset")
    ap.add_argument("--threshold", type=float, default=0.9, help="validation exact match to reach")
    ap.add_argument("--cap", type=float, default=1800.0, help="seconds of training at most")
    ap.add_argument("--confirm", type=int, default=1000, help="val records that confirm the target")
    ap.add_argument("--eval-every", type=int, help="steps between validation samples (default: the recipe's)")
    ap.add_argument("--eval-sample", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init-from", type=Path, help="warm start from this checkpoint, as the main job's specialists do")
    ap.add_argument("--lr", type=float, help="learning rate (the main job's specialists: 2.5e-4 warm-started)")
    ap.add_argument("--proxy", action="store_true", help="coordinator to 40%%, samples every 100 steps, 600 s cap")
    ap.add_argument("--arm", action="append", default=[], help="NAME=--set field=value ... (repeatable)")
    ap.add_argument("--out", type=Path, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if args.proxy:
        args.brain, args.threshold, args.cap, args.eval_every = "coordinator", 0.4, 600.0, 100
        args.confirm = min(args.confirm, 500)
    arms = [("recipe", {})] + [parse_arm(a) for a in args.arm]
    root = args.out or Path(tempfile.mkdtemp(prefix="tta-"))
    print(f"machine: {machine()}; brain {args.brain}, threshold {args.threshold:.0%}, cap {args.cap:g} s, "
          f"{args.threads} threads, corpus {args.corpus}")
    rows = []
    for seed in args.seeds:  # seed-major: a drift of the machine hits every arm alike
        for name, settings in arms:
            r = one_run(args, seed, settings, root / f"{name}-s{seed}")
            r["arm"] = name
            rows.append(r)
            print(fmt_row(name, r), flush=True)
    print(f"\n{'arm':<14} {'seed':>4} {'s→tgt':>7} {'steps':>6} {'records':>8} {'tokens':>8} {'FLOPs':>8}  "
          + " ".join(f"{int(k * 100):>5}%" for k in LEVELS) + "  stop")
    for r in rows:
        print(fmt_row(r["arm"], r))
    summary = {}
    for name, _ in arms:
        got = [r["seconds_to_target"] for r in rows if r["arm"] == name and r["reached"]]
        n = sum(1 for r in rows if r["arm"] == name)
        summary[name] = {"reached": len(got), "runs": n, "mean_s": statistics.mean(got) if got else None,
                         "spread_s": (max(got) - min(got)) if len(got) > 1 else None}
    base = summary["recipe"]["mean_s"]
    print()
    for name, s in summary.items():
        ratio = f"{s['mean_s'] / base:.2f}x the recipe" if base and s["mean_s"] else "-"
        print(f"{name:<14} reached {s['reached']}/{s['runs']}  mean {s['mean_s'] or '-'} s  "
              f"spread {s['spread_s'] or '-'} s  {ratio}")
    precision = next((r["precision"] for r in rows if r.get("precision")), None)
    print(f"precision: {json.dumps(precision) if precision else '-'}")
    if args.json:
        from helix.util import atomic_write_json

        atomic_write_json(args.json, {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
                                      "rows": rows, "summary": summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
