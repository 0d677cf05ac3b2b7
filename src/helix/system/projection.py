"""Before training: how long each brain will take to reach its target on this machine.

The launcher measures a few real training steps of each job (its preset, tokenizer, precision
choice, thread count and batch, on records of its own corpus): its step rate here. The steps the
recipe needs to reach the target come from a measured curve: this machine's own earlier runs
first (every main job records each brain's time to target in the user's cache,
``time_to_target.json``, see :func:`record_time_to_target`), else the recipe's reference run
(``helix.ml.config.RECIPE_STEPS_TO_TARGET`` / ``RECIPE_REFERENCE``, docs/RESULTS.md). Steps over
rate is the ETA printed before training; a clock-bound run (``--time-budget``) is told instead
whether its budget buys those steps. A run on a slow machine is told the truth before it starts.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from pathlib import Path

from helix.ml.config import RECIPE_ID, RECIPE_REFERENCE, RECIPE_STEPS_TO_TARGET, default_train_config
from helix.util import atomic_write_json, utc_now_iso

TARGET = 0.9  # the brains' target (val and test exact match), as the trainer's gate_min_exact
HISTORY_FILE = "time_to_target.json"
HISTORY_KEEP = 10  # entries kept per machine and brain


_TOKENIZERS: dict = {}


def measure_step_rate(brain: str, preset: str, corpus: Path, *, threads: int | None, batch_size: int,
                      mix: str = "own", steps: int = 3, seed: int = 0) -> dict:
    """Optimizer steps per second of a real training step (forward, backward, clip, optimizer)."""
    import torch

    from helix.ml import precision

    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        with precision.denormals_flushed():
            return _measure(brain, preset, corpus, batch_size=batch_size, mix=mix, steps=steps, seed=seed)
    finally:
        torch.set_num_threads(old_threads)


def _measure(brain: str, preset: str, corpus: Path, *, batch_size: int, mix: str, steps: int, seed: int) -> dict:
    import torch

    from helix.ml import precision
    from helix.ml.data import collate, encode_records, load_records
    from helix.ml.model import GPT, loss_fn
    from helix.ml.optim import build_optimizer
    from helix.ml.tokenizer import BRAINS
    from helix.ml.train import model_config, tokenizer_for

    cfg = dataclasses.replace(default_train_config(brain, preset, "cpu"), corpus=str(corpus))
    key = (str(corpus), cfg.tokenizer)
    if key not in _TOKENIZERS:  # one corpus, one vocabulary for every job of a launch
        _TOKENIZERS[key] = tokenizer_for(cfg, Path(corpus) / ".no-checkpoints")  # what the job builds
    tok = _TOKENIZERS[key]
    mcfg = model_config(cfg, tok)
    choice = precision.choose(torch.device("cpu"), mcfg.d_model, mcfg.n_heads, mcfg.d_ff)
    own = [r for b in (BRAINS if mix == "all" else (brain,)) for r in load_records(corpus, b, "train")]
    rng = random.Random(seed)
    sample = rng.sample(own, min(len(own), batch_size * (steps + 1)))
    ds = encode_records(sample, tok, brain, mcfg.max_len).examples
    torch.manual_seed(seed)
    model = GPT(mcfg, run_mask=tok.run_char_mask())
    model.set_attention(choice["attention"])
    opt = build_optimizer(model, kind=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay,
                          betas=cfg.betas, muon_lr_mult=cfg.muon_lr_mult, muon_ns_dtype=choice["muon_ns"])
    amp = choice["autocast"] == "bf16"
    # one batch of the records nearest the mean length, repeated: the warm-up step pays the
    # kernels' first-call costs for its shape and the timed steps cost an average batch
    mean_len = sum(len(e.ids) for e in ds) / max(1, len(ds))
    batch = sorted(ds, key=lambda e: abs(len(e.ids) - mean_len))[:batch_size]
    batches = [batch] * (steps + 1)

    def one(b):
        inp, tgt, w = collate(b, tok.pad_id, multiple=cfg.pad_multiple)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits = model(inp)
        (loss_fn(logits, tgt, w) / w.sum().clamp(min=1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return sum(len(e.ids) - 1 for e in b)

    one(batches[0])  # warm-up
    t = time.perf_counter()
    tokens = sum(one(b) for b in batches[1:])
    dt = time.perf_counter() - t
    n = max(1, len(batches) - 1)
    return {"steps_per_s": n / dt, "tokens_per_s": tokens / dt, "threads": torch.get_num_threads(),
            "precision": {k: choice[k] for k in ("autocast", "attention", "muon_ns")},
            "precision_source": choice.get("source"), "tokenizer": tok.kind}


def history_path() -> Path:
    """This user's record of measured times to target (beside the precision probe's cache)."""
    from helix.ml.precision import cache_path

    return cache_path().with_name(HISTORY_FILE)


def machine_key(machine: dict) -> str:
    return f"{machine.get('cpu')} | {machine.get('cores')} cores | torch {machine.get('torch')}"


def _read_history() -> dict:
    try:
        h = json.loads(history_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return h if isinstance(h, dict) else {}


def record_time_to_target(brain: str, entry: dict, machine: dict) -> None:
    """Add one brain's measured run (steps, seconds, whether it reached the target, why it
    stopped, precision, the training arguments that changed the recipe) to this machine's
    history; the next projection of the same recipe and arguments prefers it."""
    h = _read_history()
    rows = h.setdefault(machine_key(machine), {}).setdefault(brain, [])
    rows.append({**entry, "recipe": entry.get("recipe", RECIPE_ID), "train_args": list(entry.get("train_args") or []),
                 "time": entry.get("time") or utc_now_iso()})
    del rows[:-HISTORY_KEEP]
    try:
        atomic_write_json(history_path(), h)
    except OSError:
        pass  # a read-only cache costs the next projection its local curve, nothing else


def steps_to_target(brain: str, machine: dict | None, train_args: list[str] | tuple = ()) -> tuple[int | None, str]:
    """(optimizer steps the recipe needs to reach the target, where that figure comes from).
    Only this machine's runs of the same recipe with the same extra training arguments count
    (a run with another tokenizer or learning rate has another curve)."""
    if machine:
        mine = [r for r in _read_history().get(machine_key(machine), {}).get(brain, [])
                if isinstance(r, dict) and r.get("reached") and r.get("recipe") == RECIPE_ID
                and list(r.get("train_args") or []) == list(train_args) and isinstance(r.get("steps"), int)]
        if mine:
            r = mine[-1]
            return r["steps"], f"measured on this machine, {r.get('time', '')[:10]}"
    note = f"; {' '.join(train_args)} may change it" if train_args else ""
    if brain in RECIPE_STEPS_TO_TARGET:
        ref = RECIPE_REFERENCE.get(brain) or {}
        return RECIPE_STEPS_TO_TARGET[brain], f"the reference run, {ref.get('machine', 'measured')}{note}"
    ref = RECIPE_REFERENCE.get(brain)
    if ref and ref["val_exact_match"] >= TARGET:
        return ref["steps"], f"the reference run, {ref['machine']}{note}"
    return None, ""


def human_s(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(round(s))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def project(brain: str, rate: dict, budget_s: float | None, *, steps_done_before: int = 0,
            cap_s: float | None = None, machine: dict | None = None, train_args: list[str] | tuple = ()) -> dict:
    """The brain's time to target here (``eta_s``), or, for a clock-bound run (``budget_s``),
    whether the budget buys the steps the target needs."""
    sps = rate["steps_per_s"]
    need, source = steps_to_target(brain, machine, train_args)
    speed = f"{sps:.2f} steps/s, {rate['tokens_per_s']:,.0f} tokens/s"
    out = {"steps_per_s": round(sps, 3), "tokens_per_s": round(rate["tokens_per_s"]), "budget_s": budget_s,
           "cap_s": cap_s, "steps_needed": need, "source": source or None}
    need_s = None if need is None else max(0.0, (need - steps_done_before) / sps)
    out["time_needed_s"] = None if need_s is None else round(need_s)
    if budget_s is None:  # trained to its target
        out.update(projected_steps=None, eta_s=out["time_needed_s"])
        if need is None:
            ref = RECIPE_REFERENCE.get(brain)
            best = (f"; its best measured run reached {ref['val_exact_match'] * 100:.1f}% val exact match in "
                    f"{ref['steps']:,} steps ({ref['machine']})") if ref else ""
            out.update(short=True, reference=ref,
                       line=(f"ETA unknown: no measured run of this recipe reached the target{best}; it trains "
                             f"until its target or its plateau" + (f", at most {human_s(cap_s)}" if cap_s else "")
                             + f" ({speed})"))
        else:
            over = bool(cap_s and need_s > cap_s)
            out.update(short=over, line=(f"{'OVER THE CAP: ' if over else ''}ETA {human_s(need_s)} to the target: "
                                         f"{need:,} steps ({source}) at {speed}"
                                         + (f"; the cap is {human_s(cap_s)}" if over else "")))
        return out
    steps = int(sps * budget_s) + steps_done_before
    out["projected_steps"] = steps
    if need is None:
        ref = RECIPE_REFERENCE.get(brain)
        seen = (f"; its best measured run reached {ref['val_exact_match'] * 100:.1f}% val exact match in "
                f"{ref['steps']:,} steps ({ref['machine']})") if ref else ""
        out.update(short=True, reference=ref, eta_s=None,
                   line=(f"projects {steps:,} steps in {budget_s:.0f}s ({speed}); no measured run of this recipe "
                         f"reached its target{seen}: the target is unlikely to be met"))
        return out
    short = steps < need
    out.update(short=short, eta_s=out["time_needed_s"])
    out["line"] = ((f"SHORT: projects {steps:,} steps in {budget_s:.0f}s ({speed}); the target needs "
                    f"{need:,} ({source}), about {need_s:.0f}s here") if short else
                   (f"projects {steps:,} steps in {budget_s:.0f}s ({speed}); the target needs {need:,} ({source})"))
    return out


def job_eta(projections: dict[str, dict], warm_start: bool) -> float | None:
    """The whole job's ETA: the coordinator, then the specialists side by side (warm start), or
    every job side by side; None when a brain's ETA is unknown."""
    etas = {b: p.get("eta_s") for b, p in projections.items()}
    if any(v is None for v in etas.values()) or not etas:
        return None
    if warm_start and "coordinator" in etas:
        rest = [v for b, v in etas.items() if b != "coordinator"]
        return etas["coordinator"] + (max(rest) if rest else 0.0)
    return max(etas.values()) if etas else None
