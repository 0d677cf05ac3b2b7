"""CPU attention and training-step speed: why the tiny presets bypass SDPA under bf16 on the CPU.

    .venv/bin/python benchmarks/bench_attention.py [--threads 1] [--lengths 64 128 200]
                                                   [--steps 40] [--corpus runs/corpus]

1. Causal attention forward+backward at the tiny presets' head shape (batch 32, 4 heads of 48),
   side by side: ``F.scaled_dot_product_attention`` with the flash and math CPU kernels,
   ``helix.ml.model.explicit_attention`` (two matmuls, an additive causal bias and a softmax),
   and the same with a ``masked_fill`` causal mask instead of the bias (its earlier form), in
   bf16 and fp32.
2. With ``--corpus``: a specialist-tiny training step (bf16 autocast, Muon + AdamW, batch 32 from
   the ascii corpus) with the model's attention as shipped and with SDPA forced, in tokens/s.

Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from unittest import mock

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from helix.ml import model as M


def masked_attention(q, k, v):
    """``explicit_attention`` as it was before the additive bias: a boolean mask per call."""
    T = q.size(-2)
    scores = (q * q.size(-1) ** -0.5) @ k.transpose(-2, -1)
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v


def time_attention(kind: str, T: int, dtype: torch.dtype, reps: int) -> float:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(32, 4, T, 48, generator=g).to(dtype).requires_grad_() for _ in range(3))

    def once() -> None:
        if kind == "explicit":
            y = M.explicit_attention(q, k, v, None, 0.0)
        elif kind == "masked":
            y = masked_attention(q, k, v)
        else:
            backend = SDPBackend.FLASH_ATTENTION if kind == "sdpa-flash" else SDPBackend.MATH
            with sdpa_kernel(backend):
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y.float().sum().backward()

    for _ in range(3):
        once()
    t = time.perf_counter()
    for _ in range(reps):
        once()
    return (time.perf_counter() - t) / reps * 1000


def time_steps(corpus: str, steps: int, force_sdpa: bool) -> float:
    from helix.ml.config import get_preset
    from helix.ml.data import collate, encode_records, epoch_batches, load_records
    from helix.ml.optim import build_optimizer
    from helix.ml.tokenizer import Tokenizer

    tok = Tokenizer()
    ex = encode_records(load_records(corpus, "ascii", "train"), tok, "ascii", 256).examples
    torch.manual_seed(0)
    model = M.GPT(get_preset("specialist-tiny"))
    opt = build_optimizer(model, kind="muon", lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95))
    batches = epoch_batches([len(e.ids) for e in ex], 32, 0, 0)[: steps + 5]

    def sdpa(q, k, v, mask, dropout):
        if mask is None:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    ctx = mock.patch.object(M, "explicit_attention", sdpa) if force_sdpa else contextlib.nullcontext()
    tokens, elapsed = 0, 0.0
    with ctx:
        for n, b in enumerate(batches):
            inp, tgt, w = collate([ex[i] for i in b], tok.pad_id, multiple=8)
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(inp)
            (M.loss_fn(logits, tgt, w) / w.sum()).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if n >= 5:  # the first steps warm the allocator up
                elapsed += time.perf_counter() - t
                tokens += inp.numel()
    return tokens / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lengths", type=int, nargs="+", default=[64, 128, 200])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--corpus", default=None, help="a corpus directory: also time training steps")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {a.threads} thread(s); causal attention fwd+bwd, batch 32, "
          "4 heads of 48, ms per call")
    kinds = ["sdpa-flash", "sdpa-math", "masked", "explicit"]
    print(f"{'length':>6} {'dtype':>9} " + " ".join(f"{k:>11}" for k in kinds))
    for T in a.lengths:
        for dtype in (torch.bfloat16, torch.float32):
            ms = [time_attention(k, T, dtype, a.reps) for k in kinds]
            print(f"{T:>6} {str(dtype).split('.')[-1]:>9} " + " ".join(f"{m:>11.2f}" for m in ms))
    if a.corpus:
        shipped = time_steps(a.corpus, a.steps, force_sdpa=False)
        forced = time_steps(a.corpus, a.steps, force_sdpa=True)
        print(f"specialist-tiny training step, bf16 autocast, batch 32: explicit attention "
              f"{shipped:,.0f} tokens/s, SDPA {forced:,.0f} tokens/s ({shipped / forced:.2f}x)")


if __name__ == "__main__":
    main()
