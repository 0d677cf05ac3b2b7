"""FLOP counts and MFU.

Training FLOPs of one sequence of ``s`` tokens: ``6·N·s + 12·L·d·s²`` where N counts every
matrix the tokens go through (the blocks and the tied output head, not the embedding lookup) and
the second term is attention (QKᵀ and AV, forward and backward, counted over the full square as
is usual). MFU = achieved FLOP/s over the device's dense bf16 peak, looked up by device name.
Only real (non-padding) tokens count, so padding waste shows up as lower MFU.
"""

from __future__ import annotations

from helix.ml.config import ModelConfig

# Dense (no sparsity) bf16 tensor-core peaks in FLOP/s, matched against the device name.
PEAK_BF16 = [
    ("H200", 989e12),
    ("H100 PCIE", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),  # SXM
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
    ("V100", 125e12),  # fp16 (no bf16 tensor cores)
    ("T4", 65e12),  # fp16
]


def peak_bf16_flops(device_name: str) -> float | None:
    name = device_name.upper()
    for key, peak in PEAK_BF16:
        if key in name:
            return peak
    return None


def matmul_params(cfg: ModelConfig) -> int:
    return cfg.num_params(exclude_embeddings=True) + cfg.vocab_size * cfg.d_model


def train_flops(cfg: ModelConfig, lengths) -> float:
    """Training FLOPs (forward + backward) for sequences of the given lengths."""
    n = matmul_params(cfg)
    att = 12 * cfg.n_layers * cfg.d_model
    return float(sum(6 * n * s + att * s * s for s in lengths))


def train_flops_per_token(cfg: ModelConfig, seq_len: int) -> float:
    return 6 * matmul_params(cfg) + 12 * cfg.n_layers * cfg.d_model * seq_len
