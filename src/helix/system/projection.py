"""Before training: how many optimizer steps each brain will make here, and is that enough?

The launcher measures a few real training steps of each job (its preset, tokenizer, precision
choice, thread count and batch, on records of its own corpus) and projects the steps its time
budget buys. The CPU recipe records how many steps it needed to reach its target
(``helix.ml.config.RECIPE_STEPS_TO_TARGET``, measured, see docs/RESULTS.md); a job projected
below that is reported in the launch output and in its ``status.json`` with the time it would
need. A run on a slow machine is told the truth before it starts, not after.
"""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path

from helix.ml.config import RECIPE_REFERENCE, RECIPE_STEPS_TO_TARGET, default_train_config


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


def project(brain: str, rate: dict, budget_s: float | None, *, steps_done_before: int = 0) -> dict:
    """Projected optimizer steps in ``budget_s`` against the recipe's measured need."""
    sps = rate["steps_per_s"]
    need = RECIPE_STEPS_TO_TARGET.get(brain)
    out = {"steps_per_s": round(sps, 3), "tokens_per_s": round(rate["tokens_per_s"]), "budget_s": budget_s,
           "steps_needed": need}
    if budget_s is None:
        out.update(projected_steps=None, short=False,
                   line=f"{sps:.2f} steps/s measured; no time budget (the run ends by epochs or steps)")
        return out
    steps = int(sps * budget_s) + steps_done_before
    out["projected_steps"] = steps
    if need is None:
        ref = RECIPE_REFERENCE.get(brain)
        seen = ""
        if ref:
            seen = (f"; its measured main job reached {ref['val_exact_match'] * 100:.1f}% val exact match "
                    f"in {ref['steps']:,} steps ({ref['machine']})")
        out.update(short=True, reference=ref,
                   line=(f"projects {steps:,} steps in {budget_s:.0f}s ({sps:.2f}/s, {rate['tokens_per_s']:,.0f} "
                         f"tokens/s); the recipe has not reached "
                         f"its target in any measured run{seen}: the target is unlikely to be met"))
        return out
    short = steps < need
    need_s = max(0.0, (need - steps_done_before) / sps)
    out.update(short=short, time_needed_s=round(need_s))
    if short:
        out["line"] = (f"SHORT: projects {steps:,} steps in {budget_s:.0f}s ({sps:.2f}/s, {rate['tokens_per_s']:,.0f} "
                       f"tokens/s); the recipe needed "
                       f"{need:,} for its target, about {need_s:.0f}s here")
    else:
        out["line"] = (f"projects {steps:,} steps in {budget_s:.0f}s ({sps:.2f}/s, {rate['tokens_per_s']:,.0f} "
                       f"tokens/s); the recipe needed {need:,}")
    return out
