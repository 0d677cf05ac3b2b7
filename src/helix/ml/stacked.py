"""Several brains of one shape as one model: every weight stacked on a leading expert axis.

The CPU brains are small enough that a decoding step costs mostly per-call overhead (a small-row
matmul costs about the same whatever its size), not arithmetic: on machine B one brain's step with
3 rows took 2.2 ms and the three brains' step with 3 rows each, their weights side by side and
each matmul one batched ``bmm``, 3.8 ms, where three steps one after another cost three times 2.2 ms
(docs/RESULTS.md). The answer path decodes every brain's candidates at once this way
(``helix.system.ask``).

A :class:`StackedGPT` is a :class:`helix.ml.model.GPT` whose embeddings, linear layers and norms
hold ``E`` experts' weights; its batch is expert-major: rows ``[e * R, (e + 1) * R)`` belong to
expert ``e`` (``R`` rows each, the same for every expert). Everything else (positions, rotary
tables, masks, the KV cache, attention) is the GPT's own code, so each row computes what its own
brain computes, up to floating-point summation order.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from helix.ml.model import GPT, Block


def stackable(models: list[GPT]) -> bool:
    """Whether these models can be stacked: one config, one run-character mask, one device, one dtype."""
    if len(models) < 2:
        return False
    first = models[0]
    p0 = next(first.parameters())
    for m in models[1:]:
        p = next(m.parameters())
        if m.cfg != first.cfg or p.device != p0.device or p.dtype != p0.dtype:
            return False
        if (first.run_emb is None) != (m.run_emb is None):
            return False
        if first.run_emb is not None and not torch.equal(first.run_char, m.run_char):
            return False
    return True


def _experts(n_rows: int, n_experts: int) -> int:
    if n_rows % n_experts:
        raise ValueError(f"a stacked batch needs the same rows per expert: {n_rows} rows, {n_experts} experts")
    return n_rows // n_experts


class StackedEmbedding(nn.Module):
    def __init__(self, embs: list[nn.Embedding]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.stack([e.weight.detach() for e in embs]), requires_grad=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        E, V, C = self.weight.shape
        R = _experts(idx.size(0), E)
        offset = torch.arange(E, device=idx.device).repeat_interleave(R) * V
        return F.embedding(idx + offset.view(-1, *([1] * (idx.dim() - 1))), self.weight.view(E * V, C))


class StackedLinear(nn.Module):
    """``E`` bias-free linear layers: (N, T, in) -> (N, T, out), one ``bmm``."""

    def __init__(self, layers: list[nn.Linear]) -> None:
        super().__init__()
        # stored transposed, (E, in, out), so that the batched matmul reads it as it lies
        self.weight_t = nn.Parameter(torch.stack([m.weight.detach().t() for m in layers]).contiguous(),
                                     requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        E, d_in, d_out = self.weight_t.shape
        N = x.size(0)
        R = _experts(N, E)
        y = torch.bmm(x.reshape(E, R * x.size(1), d_in), self.weight_t)
        return y.view(N, x.size(1), d_out)


class StackedLayerNorm(nn.Module):
    """``E`` bias-free LayerNorms over the last axis."""

    def __init__(self, norms: list[nn.LayerNorm]) -> None:
        super().__init__()
        self.eps = norms[0].eps
        self.weight = nn.Parameter(torch.stack([n.weight.detach() for n in norms]), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        E, C = self.weight.shape
        N = x.size(0)
        y = F.layer_norm(x, (C,), eps=self.eps)
        return (y.view(E, _experts(N, E), -1, C) * self.weight[:, None, None]).view(x.shape)


class StackedGPT(GPT):
    """``models`` (see :func:`stackable`) as one inference-only model with an expert-major batch."""

    def __init__(self, models: list[GPT]) -> None:
        if not stackable(models):
            raise ValueError("these models cannot be stacked (different shapes, tokenizers, devices or dtypes)")
        nn.Module.__init__(self)
        first = models[0]
        self.cfg = cfg = first.cfg
        self.n_experts = len(models)
        device = next(first.parameters()).device
        self.tok = StackedEmbedding([m.tok for m in models])
        self.prev_tok = StackedEmbedding([m.prev_tok for m in models]) if first.prev_tok is not None else None
        self.pos_emb = StackedEmbedding([m.pos_emb for m in models]) if first.pos_emb is not None else None
        self.run_emb = StackedEmbedding([m.run_emb for m in models]) if first.run_emb is not None else None
        if first.run_emb is not None:
            self.register_buffer("run_char", first.run_char.clone(), persistent=False)
        self.drop = nn.Identity()
        blocks = []
        for i in range(cfg.n_layers):
            with torch.device("meta"):  # the structure only; every weight is replaced below
                b = Block(cfg)
            src = [m.blocks[i] for m in models]
            b.norm1 = StackedLayerNorm([s.norm1 for s in src])
            b.norm2 = StackedLayerNorm([s.norm2 for s in src])
            b.attn.qkv = StackedLinear([s.attn.qkv for s in src])
            b.attn.proj = StackedLinear([s.attn.proj for s in src])
            b.attn.impl = src[0].attn.impl
            b.mlp.fc = StackedLinear([s.mlp.fc for s in src])
            b.mlp.out = StackedLinear([s.mlp.out for s in src])
            b.drop = nn.Identity()
            blocks.append(b)
        self.blocks = nn.ModuleList(blocks)
        self.norm = StackedLayerNorm([m.norm for m in models])
        self.to(device)
        self.eval()

    def head(self, x: torch.Tensor) -> torch.Tensor:
        E, V, C = self.tok.weight.shape
        N, T = x.shape[:2]
        logits = torch.bmm(x.reshape(E, _experts(N, E) * T, C), self.tok.weight.transpose(1, 2))
        return logits.view(N, T, V)

    def train(self, mode: bool = True) -> "StackedGPT":
        return super().train(False)  # inference only: no dropout, no gradients


class Stack:
    """Loaded brains of one shape and one tokenizer, stacked (see :func:`stack_brains`)."""

    def __init__(self, names: list[str], model: StackedGPT, tokenizer) -> None:
        self.names, self.model, self.tokenizer = names, model, tokenizer

    def generate(self, requests: dict[str, list[tuple[str, str, str]]], *, max_new_tokens: int = 256,
                 constraint=None) -> dict[str, list]:
        """Greedy decoding of every brain's (src_fmt, src, tgt_fmt) requests in one batch: brain ->
        its :class:`helix.ml.generate.Generation` list, as each brain's own ``generate`` gives it.
        Each brain's rows are padded to the largest brain's count with rows that decode nothing."""
        from helix.ml.generate import encode_prompts, generate_ids, to_generation

        unknown = set(requests) - set(self.names)
        if unknown:
            raise ValueError(f"not in this stack: {', '.join(sorted(unknown))}")
        tok, max_len = self.tokenizer, self.model.cfg.max_len
        prompts = {b: encode_prompts(tok, max_len, requests.get(b, [])) for b in self.names}
        R = max(len(p) for p in prompts.values())
        if R == 0:
            return {b: [] for b in self.names}
        shortest = min((p for ps in prompts.values() for p in ps), key=len)
        rows, fmts, route, padding = [], [], [], []
        for b in self.names:
            own, n = prompts[b], len(prompts[b])
            rows += own + [shortest] * (R - n)
            fmts += [r[2] for r in requests.get(b, [])] + ["english"] * (R - n)
            route += [b == "coordinator"] * R
            padding += [False] * n + [True] * (R - n)
        lps: list[float] = []
        outs = generate_ids(self.model, tok, rows, with_route=route, max_new_tokens=max_new_tokens,
                            constraint=constraint, tgt_fmts=fmts, logprobs=lps, keep_rows=True,
                            padding_rows=padding)
        result = {}
        for e, b in enumerate(self.names):
            n = len(requests.get(b, []))
            result[b] = [to_generation(tok, *outs[e * R + i], lps[e * R + i], b == "coordinator")
                         for i in range(n)]
        return result


def stack_brains(brains: dict) -> Stack | None:
    """The :class:`Stack` of these loaded brains (name -> ``helix.ml.generate.Brain``), or None
    when they cannot share one batch (different shapes, tokenizers or devices)."""
    names = list(brains)
    models = [getattr(brains[n], "model", None) for n in names]
    if len(names) < 2 or not all(isinstance(m, GPT) for m in models):
        return None
    tok = brains[names[0]].tokenizer
    if any(brains[n].tokenizer != tok for n in names[1:]) or not stackable(models):
        return None
    return Stack(names, StackedGPT(models), tok)
