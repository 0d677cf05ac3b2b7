"""Optimizers: AdamW, Adam (the original recipe) and Muon + AdamW.

``muon``: the blocks' weight matrices (attention and feed-forward) step with :class:`Muon`
(momentum, orthogonalised by Newton-Schulz); the embedding (tied to the output head) and the norm
gains step with AdamW. Muon's learning rate is ``lr × muon_lr_mult``, so one schedule drives
both. At batch 32 on the CPU it bought 1.6× the test exact match of the best AdamW recipe in the
same time (docs/BRAINS.md, "Optimizer probes").

Every optimizer here exposes ``param_groups`` (each group may carry ``lr_scale``, the multiple
of the scheduled learning rate it uses), ``step``, ``zero_grad``, ``state_dict`` and
``load_state_dict``, which is all the training loop needs.
"""

from __future__ import annotations

import math

import torch

#: Newton-Schulz coefficients of the quintic iteration (Keller Jordan's Muon; torch.optim.Muon's).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_EPS = 1e-7
NS_DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def zeropower_newtonschulz(g: torch.Tensor, steps: int = 5, dtype: torch.dtype = torch.bfloat16,
                           coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
                           eps: float = NS_EPS) -> torch.Tensor:
    """Approximately orthogonalise the 2-D matrix ``g`` (the same iteration as torch.optim.Muon).

    ``dtype`` is the precision of the iteration: torch's Muon always uses bf16, which is emulated
    (about 40x slower than fp32) on a CPU without native bf16; here it is the caller's choice.
    """
    a, b, c = coefficients
    x = g.to(dtype)
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.T
        x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if tall else x


class Muon(torch.optim.Optimizer):
    """Muon with a selectable Newton-Schulz precision; otherwise torch.optim.Muon's update.

    Nesterov momentum, the update orthogonalised by Newton-Schulz, the learning rate scaled by
    sqrt(max(1, rows/cols)), decoupled weight decay. The state (``momentum_buffer`` per matrix) is
    the same as torch.optim.Muon's. ``tests/test_ml_optim.py`` holds it to the library's step.
    """

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_steps: int = 5, ns_dtype: str = "bf16") -> None:
        if ns_dtype not in NS_DTYPES:
            raise ValueError(f"ns_dtype must be one of {', '.join(NS_DTYPES)}, not {ns_dtype!r}")
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError("Muon: lr, momentum and weight_decay must be >= 0")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      nesterov=nesterov, ns_steps=ns_steps, ns_dtype=ns_dtype))
        for group in self.param_groups:
            if any(p.ndim != 2 for p in group["params"]):
                raise ValueError("Muon only takes 2-D parameters")

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume keeps this process's Newton-Schulz precision (the machine may have changed)."""
        dtype = self.defaults["ns_dtype"]
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["ns_dtype"] = dtype
            group.setdefault("nesterov", True)
            group.setdefault("ns_steps", 5)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mom, dtype = group["lr"], group["momentum"], NS_DTYPES[group["ns_dtype"]]
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p.grad))
                buf.lerp_(p.grad, 1 - mom)
                update = p.grad.lerp(buf, mom) if group["nesterov"] else buf
                update = zeropower_newtonschulz(update, group["ns_steps"], dtype)
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(update.to(p.dtype), alpha=-lr * math.sqrt(max(1.0, p.size(0) / p.size(1))))
        return loss


class MuonAdamW:
    """Muon on the hidden matrices, AdamW on everything else, stepped together."""

    def __init__(self, muon: torch.optim.Optimizer, adamw: torch.optim.Optimizer) -> None:
        self.muon = muon
        self.adamw = adamw

    @property
    def param_groups(self) -> list[dict]:
        return self.adamw.param_groups + self.muon.param_groups

    def step(self) -> None:
        self.adamw.step()
        self.muon.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.adamw.zero_grad(set_to_none=set_to_none)
        self.muon.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"adamw": self.adamw.state_dict(), "muon": self.muon.state_dict()}

    def load_state_dict(self, sd: dict) -> None:
        if not (isinstance(sd, dict) and set(sd) == {"adamw", "muon"}):
            raise ValueError("optimizer state is not a Muon + AdamW state (was the run started "
                             "with another --optimizer?)")
        self.adamw.load_state_dict(sd["adamw"])
        self.muon.load_state_dict(sd["muon"])


def is_hidden_matrix(name: str, p: torch.nn.Parameter) -> bool:
    """Muon's share: 2-D weights inside the transformer blocks (not the embedding/head)."""
    return p.dim() == 2 and name.startswith("blocks.")


def build_optimizer(model: torch.nn.Module, *, kind: str, lr: float, weight_decay: float,
                    betas: tuple[float, float], muon_lr_mult: float = 10.0,
                    muon_momentum: float = 0.95, muon_ns_steps: int = 5, muon_ns_dtype: str = "bf16",
                    fused: bool = False):
    """The optimizer a TrainConfig names. Weight decay applies to matrices only.

    ``muon_ns_dtype``: precision of Muon's Newton-Schulz iteration (``bf16`` or ``fp32``; the
    trainer takes it from the capability probe, helix.ml.precision)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if kind == "adam":
        return torch.optim.Adam([p for _, p in named], lr=lr, betas=tuple(betas), fused=fused)
    if kind not in ("adamw", "muon"):
        raise ValueError(f"unknown optimizer {kind!r} (expected adamw, adam or muon)")
    hidden = [p for n, p in named if kind == "muon" and is_hidden_matrix(n, p)]
    hidden_ids = {id(p) for p in hidden}
    decay = [p for _, p in named if p.dim() >= 2 and id(p) not in hidden_ids]
    no_decay = [p for _, p in named if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay, "lr_scale": 1.0},
              {"params": no_decay, "weight_decay": 0.0, "lr_scale": 1.0}]
    adamw = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=tuple(betas),
                              fused=fused)
    if kind == "adamw":
        return adamw
    if not hidden:
        raise ValueError("--optimizer muon: the model has no block matrices")
    muon = Muon([{"params": hidden, "lr_scale": muon_lr_mult}], lr=lr * muon_lr_mult,
                weight_decay=weight_decay, momentum=muon_momentum, ns_steps=muon_ns_steps,
                ns_dtype=muon_ns_dtype)
    return MuonAdamW(muon, adamw)


def set_lr(opt, lr: float) -> None:
    """Apply the scheduled learning rate to every group (times its ``lr_scale``)."""
    for g in opt.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)
