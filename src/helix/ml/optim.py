"""Optimizers: AdamW, Adam (the original recipe) and Muon + AdamW.

``muon``: the blocks' weight matrices (attention and feed-forward) step with ``torch.optim.Muon``
(momentum, orthogonalised by Newton-Schulz); the embedding (tied to the output head) and the norm
gains step with AdamW. Muon's learning rate is ``lr × muon_lr_mult``, so one schedule drives
both. At batch 32 on the CPU it bought 1.6× the test exact match of the best AdamW recipe in the
same time (docs/BRAINS.md, "Optimizer probes").

Every optimizer here exposes ``param_groups`` (each group may carry ``lr_scale``, the multiple
of the scheduled learning rate it uses), ``step``, ``zero_grad``, ``state_dict`` and
``load_state_dict``, which is all the training loop needs.
"""

from __future__ import annotations

import torch


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
                    muon_momentum: float = 0.95, muon_ns_steps: int = 5, fused: bool = False):
    """The optimizer a TrainConfig names. Weight decay applies to matrices only."""
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
    muon = torch.optim.Muon([{"params": hidden, "lr_scale": muon_lr_mult}], lr=lr * muon_lr_mult,
                            weight_decay=weight_decay, momentum=muon_momentum, ns_steps=muon_ns_steps)
    return MuonAdamW(muon, adamw)


def set_lr(opt, lr: float) -> None:
    """Apply the scheduled learning rate to every group (times its ``lr_scale``)."""
    for g in opt.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)
