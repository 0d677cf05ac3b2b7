"""Training memory estimate (bytes) for a model shape, batch and sequence length.

Weights, gradients and optimizer moments are fp32 (autocast keeps fp32 master weights). The
activation term follows the usual per-layer accounting for a transformer block (Korthikanti et
al. 2022) adapted to this model: attention through SDPA flash/memory-efficient kernels (no T×T
matrix is kept) or, with ``explicit_attention`` (bf16 on the CPU, ``helix.ml.model``), the T×T
probabilities of every head kept for the backward pass; GELU MLP of width d_ff, no biases; plus
the logits (kept in fp32 for the loss).
"""

from __future__ import annotations

from helix.ml.config import ModelConfig


def estimate_train_memory(
    model_cfg: ModelConfig,
    batch_size: int,
    seq_len: int = 256,
    *,
    amp_bf16: bool,
    optimizer: str = "adamw",
    explicit_attention: bool = False,
) -> dict:
    n = model_cfg.num_params()
    b, s, d, f, L = batch_size, seq_len, model_cfg.d_model, model_cfg.d_ff, model_cfg.n_layers
    a = 2 if amp_bf16 else 4  # bytes per activation element
    params = 4 * n
    grads = 4 * n
    if optimizer in ("adamw", "adam", "muon"):
        # two fp32 moments (for Muon an upper bound: one buffer per matrix, AdamW's two for the rest)
        opt = 8 * n
    elif optimizer == "sgd":
        opt = 4 * n
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    tokens = b * s
    per_layer = (
        2 * d * a  # two LayerNorm inputs
        + d * a  # qkv input (normed)
        + 3 * d * a  # q, k, v
        + d * a  # attention output (proj input)
        + d * a  # the attention kernel's own output, kept for its backward (heads-first, before the reshape)
        + model_cfg.n_heads * 4  # softmax statistics (logsumexp, fp32) per head
        + f * a * 2  # fc output (GELU input) and GELU output (out input)
        + d * a  # fc input
    )
    if model_cfg.pos == "rope":
        per_layer += 2 * d * a  # q and k after the rotary embedding (new tensors, kept for attention's backward)
    if model_cfg.dropout > 0:
        per_layer += 3 * d  # dropout masks (1 byte each)
    if explicit_attention:
        per_layer += model_cfg.n_heads * s * a  # each query's row of attention probabilities
    activations = L * per_layer * tokens
    activations += tokens * d * (a + 4)  # embedding output, final norm input
    activations += tokens * model_cfg.vocab_size * 4 * 2  # logits (fp32) and their gradient
    if amp_bf16:
        activations += 2 * n  # bf16 copies of the weights made by autocast
    workspace = 256 * 2**20 + (params + grads + opt + activations) // 20  # allocator, cuBLAS
    total = params + grads + opt + activations + workspace
    return {
        "params": int(params),
        "grads": int(grads),
        "optimizer": int(opt),
        "activations": int(activations),
        "workspace": int(workspace),
        "total": int(total),
    }


def fmt_bytes(n: int | float | None) -> str:
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
