"""When a brain stops training, and a learning rate that needs no horizon.

A run to a target has no known length, so the CPU recipe trains the way Lightning's
``EarlyStopping(monitor="val_exact_match", mode="max", stopping_threshold=…, patience=…,
min_delta=…)`` would, and measures time to target as MLPerf Training does:

- **target**: the validation sample reaches ``stopping_threshold`` (the brain's target plus its
  stop margin) and the whole validation split confirms it (``helix.ml.train._confirm_target``);
- **plateau**: ``patience`` evaluations in a row have not raised the best validation exact match
  by more than ``min_delta``;
- **cap**: the job's cap of seconds (``time_cap_s``) or steps (``max_steps``) is reached.

The learning rate is warmup-stable-decay (``schedule="wsd"``): linear warmup, then the peak rate
for as long as the curve rises; the first plateau starts the decay (half a cosine down to
``min_lr`` over ``decay_frac`` of the steps trained so far, at least ``decay_min_steps``), during
which the run does not stop on a plateau; a plateau after the decay ends the run. With a finite
step cap the decay starts in time to end at the cap.

Everything here lives in the trainer's ``state`` dict (plain numbers and one JSON text), so it is
saved in ``train_state.pt`` and an interrupted run resumes in the same phase.
"""

from __future__ import annotations

import json
import math

#: Why a run stopped (``summary.json`` / ``status.json`` ``stop_reason``).
STOP_REASONS = ("target", "plateau", "cap", "time_budget", "steps", "aborted")


def initial_state() -> dict:
    return {"es_best": -1.0, "es_wait": 0, "phase": "stable", "decay_start": None, "decay_steps": None,
            "curve_json": "[]"}


def curve(state: dict) -> list[list[float]]:
    """The evaluations so far: [step, val exact match, seconds of training]."""
    try:
        pts = json.loads(state.get("curve_json") or "[]")
    except (TypeError, ValueError):
        return []
    return pts if isinstance(pts, list) else []


def decay_end(state: dict) -> int | None:
    if state.get("decay_start") is None:
        return None
    return int(state["decay_start"]) + int(state["decay_steps"])


def start_decay(cfg, state: dict, step: int, steps: int | None = None) -> int:
    """Begin the decay at ``step``; returns its length in steps."""
    n = steps if steps is not None else max(int(cfg.decay_min_steps), int(round(cfg.decay_frac * step)))
    state.update(phase="decay", decay_start=int(step), decay_steps=max(1, int(n)), es_wait=0)
    return state["decay_steps"]


def wsd_lr(cfg, step: int, state: dict, total: int | None) -> float:
    """Learning rate of optimizer step ``step`` (0-based) under warmup-stable-decay."""
    warm = int(cfg.warmup) if cfg.warmup >= 1 else int(round(cfg.warmup * (total or 0)))
    if warm > 0 and step < warm:
        return cfg.lr * (step + 1) / warm
    if state.get("phase") == "stable" and cfg.max_steps and total:
        # a step cap: start the decay in time to end annealed at the cap
        latest = total - max(1, int(round(cfg.decay_frac * total)))
        if step >= latest:
            start_decay(cfg, state, step, total - step)
    if state.get("decay_start") is None:
        return cfg.lr
    t = min(1.0, max(0.0, (step - state["decay_start"]) / state["decay_steps"]))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t))


def advance(state: dict, step: int) -> bool:
    """After optimizer step ``step``: True when the decay has just ended (evaluate now)."""
    end = decay_end(state)
    if state.get("phase") == "decay" and end is not None and step >= end:
        state["phase"] = "annealed"
        state["es_wait"] = 0  # the annealed model gets its own patience
        return True
    return False


def observe(cfg, state: dict, step: int, em: float, elapsed_s: float) -> str | None:
    """Record one evaluation; returns ``"decay"`` when it starts the decay, ``"plateau"`` when
    the run should stop on its plateau, else None."""
    pts = curve(state)
    pts.append([int(step), float(em), round(float(elapsed_s), 1)])
    state["curve_json"] = json.dumps(pts)
    if em > state["es_best"] + cfg.min_delta:
        state["es_best"], state["es_wait"] = float(em), 0
        return None
    state["es_best"] = max(state["es_best"], float(em))
    state["es_wait"] += 1
    if not cfg.patience or state["es_wait"] < cfg.patience:
        return None
    if state["phase"] == "decay":
        return None  # the decay is what lifts the curve: never stop half-way down
    if state["phase"] == "stable" and cfg.schedule == "wsd" and not cfg.schedule_by_time:
        start_decay(cfg, state, step)
        return "decay"
    return "plateau"


def eta_to_target(state: dict, target: float, steps_per_s: float | None, *, steps_needed: int | None = None,
                  step: int = 0) -> float | None:
    """Seconds to the target from the live curve, else from the projection, else None (unknown).

    The last three evaluations give two slopes. Where the curve rises no slower than before, the
    last slope is extrapolated; where it is flattening, the slope is taken to keep shrinking by
    the same ratio each interval, and the ETA is the number of intervals whose gains add up to
    the gap. Where the curve is flat, falling, or flattening below the target (the decay will
    have to close the gap), the projected steps still to go (``steps_needed``) are used."""
    if not steps_per_s or steps_per_s <= 0:
        return None
    pts = curve(state)[-3:]
    if pts and pts[-1][1] >= target:
        return 0.0
    fallback = (steps_needed - step) / steps_per_s if steps_needed and steps_needed > step else None
    if len(pts) < 2 or pts[-1][0] <= pts[-2][0]:
        return fallback
    gap = target - pts[-1][1]
    span = pts[-1][0] - pts[-2][0]
    d2 = (pts[-1][1] - pts[-2][1]) / span
    if d2 <= 0:
        return fallback
    d1 = (pts[-2][1] - pts[0][1]) / (pts[-2][0] - pts[0][0]) if len(pts) == 3 and pts[-2][0] > pts[0][0] else None
    if d1 is None or d1 <= 0 or d2 >= d1:
        return gap / d2 / steps_per_s
    r, g = d2 / d1, d2 * span  # each interval gains r times the last
    if gap >= g * r / (1 - r):
        return fallback  # the flattening curve stops short of the target
    n = math.ceil(math.log(1 - gap * (1 - r) / (g * r)) / math.log(r) - 1e-9)
    return n * span / steps_per_s
