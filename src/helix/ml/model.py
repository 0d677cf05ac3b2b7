"""A decoder-only causal transformer, small enough to read in one sitting.

Pre-norm blocks (LayerNorm → causal self-attention → residual, LayerNorm → GELU MLP → residual),
rotary (default) or learned positions, ``F.scaled_dot_product_attention`` (flash/memory-efficient
kernels on GPU; under bf16 on the CPU an explicit two-matmul attention, which is 3x faster there),
no biases, token embedding tied with the output head; optional previous-token and run-position
embeddings (see ``GPT.__init__``).

Two ways in:
- training: ``model(idx)`` with right-padded rows; attention is plainly causal (padding sits after
  every real token, so no real token ever sees it) and the loss masks padding out.
- generation: ``model(idx, pos=..., key_valid=..., cache=KVCache)`` with left-padded prompts and
  per-row positions; ``key_valid`` hides the padding from real tokens.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from helix.ml.config import ModelConfig
from helix.ml.tokenizer import Tokenizer


class KVCache:
    """Preallocated keys and values for every layer: (B, heads, capacity, head_dim)."""

    def __init__(self, cfg: ModelConfig, batch: int, capacity: int, device, dtype) -> None:
        shape = (batch, cfg.n_heads, capacity, cfg.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.length = 0  # columns filled so far (same for every row)
        self.capacity = capacity
        self.last_ids: torch.Tensor | None = None  # (B,) last token fed (prev-token embedding)
        self.last_run: torch.Tensor | None = None  # (B,) run index of that token (run positions)

    def reorder(self, keep: torch.Tensor) -> None:
        """Keep only the rows in ``keep`` (drop finished sequences)."""
        self.k = [t.index_select(0, keep) for t in self.k]
        self.v = [t.index_select(0, keep) for t in self.v]
        if self.last_ids is not None:
            self.last_ids = self.last_ids.index_select(0, keep)
        if self.last_run is not None:
            self.last_run = self.last_run.index_select(0, keep)


def rope_tables(cfg: ModelConfig, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin for rotary embeddings at integer ``positions`` (B, T) → each (B, 1, T, hd/2)."""
    hd = cfg.head_dim
    inv = 1.0 / (cfg.rope_base ** (torch.arange(0, hd, 2, device=positions.device).float() / hd))
    ang = positions.float()[..., None] * inv  # (B, T, hd/2)
    return ang.cos()[:, None], ang.sin()[:, None]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.float().chunk(2, dim=-1)
    out = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.impl = "auto"  # sdpa | explicit | auto (explicit for bf16 on the CPU); GPT.set_attention

    def forward(self, x, rope, mask, cache: KVCache | None, layer: int):
        B, T, C = x.shape
        h, hd = self.cfg.n_heads, self.cfg.head_dim
        qkv = self.qkv(x).view(B, T, 3, h, hd).permute(2, 0, 3, 1, 4)  # (3, B, h, T, hd)
        v = qkv[2]
        # q and k rotated together: the same elementwise ops, half the calls (decoding pays per call)
        q, k = apply_rope(qkv[:2], *rope) if rope is not None else qkv[:2]
        if cache is not None:
            start = cache.length
            cache.k[layer][:, :, start : start + T] = k
            cache.v[layer][:, :, start : start + T] = v
            k = cache.k[layer][:, :, : start + T]
            v = cache.v[layer][:, :, : start + T]
        dropout = self.cfg.dropout if self.training else 0.0
        explicit = self.impl == "explicit" or (
            self.impl == "auto" and q.device.type == "cpu" and q.dtype == torch.bfloat16)
        if explicit:
            y = explicit_attention(q, k, v, mask, dropout)
        elif mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


def explicit_attention(q, k, v, mask, dropout: float) -> torch.Tensor:
    """Attention as two matmuls and a softmax: the bf16 CPU path (causal unless ``mask`` says).

    PyTorch's CPU flash kernel is slow in bf16 at our lengths: a forward+backward at batch 32,
    4 heads of 48, length 128 took 39 ms against 11 ms for this (``benchmarks/bench_attention.py``),
    and attention was ~40% of a tiny preset's training step. Same result as SDPA up to rounding.
    """
    T, S = q.size(-2), k.size(-2)
    scores = (q * q.size(-1) ** -0.5) @ k.transpose(-2, -1)  # scale the smaller tensor
    if mask is None:  # plain causal: query t sees keys 0..t (+ the S - T cached ones before)
        # a cached additive bias: 20-25% faster attention than masked_fill (bench_attention.py)
        scores = scores + causal_bias(T, S, scores.dtype, q.device)
    else:
        scores = scores.masked_fill(~mask, float("-inf"))
    att = torch.softmax(scores, dim=-1)
    if dropout:
        att = F.dropout(att, dropout)
    return att @ v


@functools.lru_cache(maxsize=32)
def causal_bias(T: int, S: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(T, S) additive mask: 0 where query t may see key s (s <= t + S - T), -inf elsewhere."""
    keep = torch.ones(T, S, dtype=torch.bool, device=device).tril(S - T)
    return torch.zeros(T, S, dtype=dtype, device=device).masked_fill(~keep, float("-inf"))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.out = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x):
        return self.out(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps, bias=False)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps, bias=False)
        self.mlp = MLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, rope, mask, cache, layer):
        x = x + self.drop(self.attn(self.norm1(x), rope, mask, cache, layer))
        return x + self.drop(self.mlp(self.norm2(x)))


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig, run_mask: list[bool] | None = None) -> None:
        """``run_mask``: per token id, whether it belongs to a run (``Tokenizer.run_char_mask()``
        of the tokenizer in use; default: the character tokenizer's)."""
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        # Previous-token embedding: position t also sees which token came before it, so one
        # attention layer can match "the token after the one I just wrote" (copying).
        self.prev_tok = nn.Embedding(cfg.vocab_size, cfg.d_model) if cfg.prev_token else None
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model) if cfg.pos == "learned" else None
        # Run positions ("abacus" style): a character's index inside its word/number/hex run, and
        # on the character after a run, that run's length. Counting is hard for attention; with
        # this, "how long is this word" (an LC-B length byte) and "which digit is this" (numbers,
        # the nibbles of a hex payload) are lookups. The mask says which token ids are run chars.
        self.run_emb = nn.Embedding(cfg.run_rows, cfg.d_model) if cfg.run_pos else None
        if cfg.run_pos:
            mask = list(run_mask if run_mask is not None else Tokenizer().run_char_mask())
            if len(mask) > cfg.vocab_size:
                raise ValueError(f"run mask for {len(mask)} tokens, vocabulary of {cfg.vocab_size}")
            mask += [False] * (cfg.vocab_size - len(mask))
            self.register_buffer("run_char", torch.tensor(mask[: cfg.vocab_size]), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps, bias=False)
        self.apply(self._init)
        # GPT-2 style: scale the residual projections by depth.
        for name, p in self.named_parameters():
            if name.endswith("attn.proj.weight") or name.endswith("mlp.out.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def set_attention(self, impl: str) -> None:
        """Attention kernel of every layer: ``sdpa``, ``explicit`` or ``auto`` (helix.ml.precision)."""
        if impl not in ("auto", "sdpa", "explicit"):
            raise ValueError(f"attention must be auto, sdpa or explicit, not {impl!r}")
        for b in self.blocks:
            b.attn.impl = impl

    def forward(
        self,
        idx: torch.Tensor,
        *,
        pos: torch.Tensor | None = None,
        key_valid: torch.Tensor | None = None,
        cache: KVCache | None = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """Logits (B, T, vocab) for token ids ``idx`` (B, T).

        ``pos`` (B, T): each token's position (default 0..T-1). ``key_valid`` (B, S): which key
        columns are real tokens (S = cache length after this call, or T without a cache); when
        given, attention uses an explicit causal+padding mask instead of the plain causal kernel.
        """
        B, T = idx.shape
        if pos is None:
            start = cache.length if cache is not None else 0
            pos = torch.arange(start, start + T, device=idx.device).expand(B, T)
        x = self.tok(idx)
        if self.prev_tok is not None:
            x = x + self._prev_embedding(idx, pos, cache)
        if self.pos_emb is not None:
            x = x + self.pos_emb(pos.clamp(max=self.cfg.max_len - 1))
        if self.run_emb is not None:
            x = x + self.run_emb(self._run_rows(idx, cache))
        x = self.drop(x)
        rope = rope_tables(self.cfg, pos) if self.cfg.pos == "rope" else None
        mask = None
        if key_valid is not None or (cache is not None and (cache.length > 0 or T > 1)):
            mask = self._mask(B, T, cache.length if cache is not None else 0, key_valid, idx.device)
        for i, block in enumerate(self.blocks):
            x = block(x, rope, mask, cache, i)
        if cache is not None:
            cache.length += T
        if last_only:
            x = x[:, -1:]
        return self.head(self.norm(x))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from the final hidden states: the token embedding, tied."""
        return F.linear(x, self.tok.weight)

    def _prev_embedding(self, idx, pos, cache):
        """Embedding of each token's predecessor (zero at position 0, where there is none)."""
        first = None
        if cache is not None and cache.length > 0 and cache.last_ids is not None:
            first = cache.last_ids[:, None]
        if first is None:
            first = torch.zeros_like(idx[:, :1])
        prev = torch.cat([first, idx[:, :-1]], dim=1)
        if cache is not None:
            cache.last_ids = idx[:, -1].clone()
        return self.prev_tok(prev) * (pos > 0).unsqueeze(-1).to(self.prev_tok.weight.dtype)

    def _run_rows(self, idx, cache):
        """Row of the run-position table for each token (see ``ModelConfig.run_pos``).

        run(t) = run(t-1) + 1 on a run character, else 0. Run characters take rows 1..K by
        index, then alternate between rows K+1 and K+2 (long hex payloads keep their byte
        parity); a non-run character right after a run takes row K+2 + min(length, K+1);
        any other token row 0. With a cache, the run carries over from the previous call.
        """
        K = self.cfg.run_pos
        B, T = idx.shape
        carry = torch.zeros(B, dtype=torch.long, device=idx.device)
        if cache is not None and cache.length > 0 and cache.last_run is not None:
            carry = cache.last_run
        is_run = self.run_char[idx]
        t = torch.arange(T, device=idx.device).expand(B, T)
        last_reset = torch.where(is_run, -1, t).cummax(dim=1).values
        run = torch.where(last_reset >= 0, t - last_reset, carry[:, None] + t + 1)
        run = torch.where(is_run, run, 0)
        prev = torch.cat([carry[:, None], run[:, :-1]], dim=1)
        if cache is not None:
            cache.last_run = run[:, -1].clone()
        inside = torch.where(run <= K, run, K + 1 + (run - K - 1) % 2)
        after = torch.where(prev > 0, K + 2 + prev.clamp(max=K + 1), 0)
        return torch.where(is_run, inside, after)

    @staticmethod
    def _mask(B, T, past, key_valid, device):
        """Boolean (B, 1, T, past+T): causal, hides padded keys, always lets a token see itself
        (so a padding query never has an empty row, which would give NaN)."""
        S = past + T
        if T == 1 and key_valid is not None:  # a decoding step: every key is causal, itself always seen
            m = key_valid[:, :S].clone()
            m[:, S - 1] = True
            return m[:, None, None]
        qpos = torch.arange(past, S, device=device)[:, None]
        kpos = torch.arange(S, device=device)[None, :]
        causal = kpos <= qpos  # (T, S)
        if key_valid is None:
            return causal[None, None].expand(B, 1, T, S)
        m = causal[None] & key_valid[:, None, :S]
        m = m | (kpos == qpos)[None]
        return m[:, None]


def loss_fn(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Sum of token cross-entropies weighted by ``weights`` (1 on target tokens, 0 elsewhere)."""
    ce = F.cross_entropy(
        logits.float().view(-1, logits.size(-1)), targets.reshape(-1), reduction="none"
    )
    return (ce * weights.reshape(-1)).sum()
