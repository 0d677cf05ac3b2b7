"""Latency and throughput of `helix ask` (model loading excluded).

    .venv/bin/python benchmarks/bench_ask.py [--run RUN_DIR] [--n 60] [--batch 16] [--device cpu]
    .venv/bin/python benchmarks/bench_ask.py --random-full --device cuda   # GPU, full presets

Default: the latest run under runs/ (the tiny CPU presets that `helix launch` trains), on CPU.
Requests: the seed's gate requests plus English requests from the corpus test split (a mix of
targets, so every brain answers), answered one by one (p50/p95 latency, requests/s) and in
batches (p50/p95 latency of a batch, requests/s), by the system path (every brain's candidates,
the vote, the core's rendering: `helix ask`'s default, its brains decoded in one batch on stacked
weights where they share a shape), the same path with each brain decoding its own batch ("apart")
and the raw path (`--raw`: the routed brain alone) side by side in one run. Targets on a 2-core CPU, system path: p50 < 100 ms and p95 <
250 ms per single request.

``--random-full``: untrained models of the full presets (coordinator-100m, specialist-50m) on
the given device, answers capped at the length of the reference answer, for the cost of the
full-size brains without a trained run (timing only: the answers are noise).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def requests_for(run: Path | None, n: int) -> list[tuple[str, str, str]]:
    """(text, to, expected) — gate requests first, then test-split English requests."""
    from helix.system.pipeline import gate_requests
    from helix.system.syseval import spread

    reqs = [(src, tgt, want) for sf, src, tgt, want in gate_requests() if sf == "english"]
    corpus = None
    if run is not None:
        launch = json.loads((run / "launch.json").read_text()) if (run / "launch.json").is_file() else {}
        corpus = Path(launch["corpus"]) if launch.get("corpus") else None
    if corpus and (corpus / "manifest.json").is_file():
        from helix.ml.data import load_records

        pool = []
        for brain in ("coordinator", "ascii", "runic"):
            pool += [r for r in load_records(corpus, brain, "test") if r["src_fmt"] == "english"]
        pool.sort(key=lambda r: r["id"])
        reqs += [(r["src"], r["tgt_fmt"], r["tgt"]) for r in spread(pool, max(0, n - len(reqs)))]
    while len(reqs) < n:
        reqs += reqs[: n - len(reqs)]
    return reqs[:n]


def random_full_system(device: str):
    import torch

    from helix.ml.config import get_preset
    from helix.ml.generate import Brain
    from helix.ml.model import GPT
    from helix.ml.tokenizer import Tokenizer
    from helix.system.ask import System

    torch.manual_seed(0)
    brains = {}
    for name, preset in (("coordinator", "coordinator-100m"), ("ascii", "specialist-50m"),
                         ("runic", "specialist-50m")):
        model = GPT(get_preset(preset)).to(device)
        brains[name] = Brain(model, Tokenizer(), name)
    return System(None, device, brains=brains)


def bench(system, reqs, *, batch: int, cap_tokens: bool, raw: bool = False) -> dict:
    if cap_tokens:  # untrained models: answers as long as the references, not until <eos>
        system.max_new_tokens = max(len(w) for _, _, w in reqs) + 1
    system.ask_many([(t, to) for t, to, _ in reqs[:4]], raw=raw)  # warm-up (allocations, caches)
    single = []
    t0 = time.perf_counter()
    ok = 0
    for text, to, want in reqs:
        t = time.perf_counter()
        a = system.ask(text, to, raw=raw)
        single.append((time.perf_counter() - t) * 1000)
        ok += bool(a.ok and a.text == want)
    single_wall = time.perf_counter() - t0
    batched = []
    t0 = time.perf_counter()
    for i in range(0, len(reqs), batch):
        chunk = reqs[i : i + batch]
        t = time.perf_counter()
        system.ask_many([(t_, to) for t_, to, _ in chunk], raw=raw)
        batched.append((time.perf_counter() - t) * 1000)
    batch_wall = time.perf_counter() - t0
    return {
        "n": len(reqs),
        "single_p50_ms": pct(single, 0.5),
        "single_p95_ms": pct(single, 0.95),
        "single_mean_ms": statistics.fmean(single),
        "single_req_per_s": len(reqs) / single_wall,
        "batch_size": batch,
        "batch_p50_ms": pct(batched, 0.5),
        "batch_p95_ms": pct(batched, 0.95),
        "batch_req_per_s": len(reqs) / batch_wall,
        "exact_answers": ok,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, help="run directory (default: the latest under runs/)")
    ap.add_argument("--n", type=int, default=60, help="requests")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--no-route-check", action="store_true", help="skip the coordinator's route-tag pass")
    ap.add_argument("--random-full", action="store_true", help="untrained full-preset models (GPU check)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from helix.system.ask import System
    from helix.system.status import resolve_run

    if args.random_full:
        run = None
        system = random_full_system(args.device)
        label = f"full presets, random weights, {args.device}"
    else:
        run = resolve_run(args.run)
        system = System(run, args.device)
        loaded = system.load_all()
        missing = [b for b, s in loaded.items() if s != "loaded"]
        if missing:
            print(f"error: {run}: brains not available: {missing}", file=sys.stderr)
            return 1
        presets = {b: system.brain(b).config.get("preset", "?") for b in ("coordinator", "ascii", "runic")}
        label = f"{run.name}, {args.device}, presets {presets}"
    system.cross_check = not args.no_route_check
    reqs = requests_for(run, args.n)
    res = {"label": label, "device": args.device, "threads": torch.get_num_threads(),
           "route_check": system.cross_check}
    print(f"helix ask benchmark — {label}, torch threads {res['threads']}, route-tag check "
          f"{'on' if system.cross_check else 'off'}")
    stack_rows = system.stack_rows
    for path in ("system", "apart", "raw"):
        # apart: the system path with each brain decoding its own batch, one after another
        system.stack_rows = 0 if path == "apart" else stack_rows
        r = res[path] = bench(system, reqs, batch=args.batch, cap_tokens=args.random_full, raw=path == "raw")
        if path == "system":
            r["stacked"] = bool(system._stack)  # None: never tried; False: the brains differ
        print(f"  {path:6} single  n={r['n']}: p50 {r['single_p50_ms']:.1f} ms  p95 {r['single_p95_ms']:.1f} ms  "
              f"mean {r['single_mean_ms']:.1f} ms  {r['single_req_per_s']:.1f} req/s"
              + (f"  (brains stacked: {'yes' if r['stacked'] else 'no, they differ in shape or tokenizer'})"
                 if path == "system" else ""))
        print(f"  {path:6} batched x{r['batch_size']}: p50 {r['batch_p50_ms']:.1f} ms/batch  "
              f"p95 {r['batch_p95_ms']:.1f} ms/batch  {r['batch_req_per_s']:.1f} req/s"
              + ("" if args.random_full else f"  exact answers {r['exact_answers']}/{r['n']}"))
    if args.json:
        from helix.util import atomic_write_json

        atomic_write_json(args.json, res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
