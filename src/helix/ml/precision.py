"""Precision and kernel choices, made by measuring the machine instead of assuming it.

Three choices decide how fast (and whether at all usefully) a brain trains on a CPU:

- ``autocast``: bf16 autocast of the model's matmuls, or plain fp32 (``off``);
- ``attention``: PyTorch's SDPA kernel or the explicit two-matmul attention of helix.ml.model;
- ``muon_ns``: the precision of Muon's Newton-Schulz orthogonalisation (bf16 or fp32).

On the CPU, subnormal floats are also flushed to zero (:func:`flush_denormals`): fp32 training
otherwise slows down several times once gradients reach subnormal values.

A CPU without native bf16 (AVX2, most AMD EPYC before Zen 4) emulates bf16 matmuls about 40x
slower than fp32; one with AMX or AVX512-BF16 runs them faster than fp32. So :func:`choose` times
each candidate at the preset's shapes (about a second), picks the fastest (every candidate is
numerically safe: bf16 is used only where it is the standard training precision) and caches the
result per machine in the user's cache directory, keyed by CPU model, torch version, thread count
and shape. On CUDA the choice is fixed: bf16 autocast, SDPA, bf16 Newton-Schulz.

Forcing a path: ``TrainConfig.amp`` / ``attention`` / ``muon_ns_dtype`` other than ``auto``, or
the environment variable ``HELIX_PRECISION="autocast=bf16,attention=explicit,muon_ns=fp32"``
(any subset). ``HELIX_CACHE_DIR`` moves the cache (tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from helix.util import atomic_write_json

CHOICES = {"autocast": ("bf16", "off"), "attention": ("sdpa", "explicit"), "muon_ns": ("bf16", "fp32")}
PROBE_VERSION = 3
#: bf16 autocast must beat fp32 by this factor to be chosen (it costs casts and precision).
BF16_MARGIN = 1.15


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_summary() -> dict:
    """What a measured figure should be recorded with."""
    flags = cpu_flags()
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
            "native_bf16": bool(flags & {"avx512_bf16", "amx_bf16"}),
            "isa": [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]}


def cache_path() -> Path:
    base = os.environ.get("HELIX_CACHE_DIR")
    if not base:
        from platformdirs import user_cache_dir

        base = user_cache_dir("helix")
    return Path(base) / "precision.json"


def parse_forced(spec: str | None) -> dict[str, str]:
    """``"autocast=bf16,attention=explicit"`` → {"autocast": "bf16", ...}; bad entries raise."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        k, _, v = part.partition("=")
        k, v = k.strip(), v.strip()
        if k not in CHOICES or v not in CHOICES[k]:
            raise ValueError(f"HELIX_PRECISION entry {part!r}: use "
                             + ", ".join(f"{k}={'|'.join(vs)}" for k, vs in CHOICES.items()))
        out[k] = v
    return out


def _time(fn, *, min_s: float = 0.05, max_reps: int = 20) -> float:
    """Seconds per call (best of a few), after one warm-up call."""
    fn()
    best = float("inf")
    spent, reps = 0.0, 0
    while reps < max_reps and (reps < 2 or spent < min_s):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, spent, reps = min(best, dt), spent + dt, reps + 1
    return best


def explicit_attention_fp(q, k, v):
    from helix.ml.model import explicit_attention

    return explicit_attention(q, k, v, None, 0.0)


def measure(d_model: int, n_heads: int, d_ff: int, *, batch: int = 32, seq: int = 48) -> dict:
    """Time the candidates at these shapes on the CPU (current thread count). About a second on
    a CPU with emulated bf16; the bf16 rows use a smaller row count there and are scaled."""
    torch.manual_seed(0)
    rows = batch * seq
    hd = d_model // n_heads
    x = torch.randn(rows, d_model)
    w = torch.randn(d_model, d_ff)
    res: dict = {"shape": {"d_model": d_model, "n_heads": n_heads, "d_ff": d_ff, "batch": batch, "seq": seq}}
    flops = 2 * rows * d_model * d_ff
    res["matmul_fp32_gflops"] = flops / _time(lambda: x @ w) / 1e9
    xs, ws = x[: max(64, rows // 16)].bfloat16(), w.bfloat16()
    res["matmul_bf16_gflops"] = 2 * xs.size(0) * d_model * d_ff / _time(lambda: xs @ ws, max_reps=5) / 1e9
    # attention forward + backward, each path, in the dtype it would run in
    for dt_name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        b = batch if dt_name == "fp32" else max(2, batch // 8)
        q, k, v = (torch.randn(b, n_heads, seq, hd, dtype=dt, requires_grad=True) for _ in range(3))
        for impl in ("sdpa", "explicit"):
            def fb():
                y = (F.scaled_dot_product_attention(q, k, v, is_causal=True) if impl == "sdpa"
                     else explicit_attention_fp(q, k, v))
                y.float().sum().backward()
            # best of several: the two kernels are within ~10% of each other in fp32
            reps = dict(min_s=0.15, max_reps=20) if dt_name == "fp32" else dict(max_reps=4)
            res[f"attention_{impl}_{dt_name}_ms"] = _time(fb, **reps) * 1e3 * batch / b
    # Newton-Schulz of the largest block matrix
    from helix.ml.optim import zeropower_newtonschulz

    g = torch.randn(d_ff, d_model)
    for dt_name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        res[f"newton_schulz_{dt_name}_ms"] = _time(lambda: zeropower_newtonschulz(g, 5, dt), max_reps=5) * 1e3
    return res


def decide(m: dict) -> dict:
    """The choices a measurement implies (the fastest candidate of each)."""
    bf16_fast = m["matmul_bf16_gflops"] > BF16_MARGIN * m["matmul_fp32_gflops"]
    autocast = "bf16" if bf16_fast else "off"
    dt = "bf16" if bf16_fast else "fp32"
    attention = ("explicit" if m[f"attention_explicit_{dt}_ms"] < m[f"attention_sdpa_{dt}_ms"] else "sdpa")
    muon_ns = "bf16" if m["newton_schulz_bf16_ms"] < m["newton_schulz_fp32_ms"] else "fp32"
    return {"autocast": autocast, "attention": attention, "muon_ns": muon_ns}


def _key(d_model: int, n_heads: int, d_ff: int, threads: int) -> str:
    return f"v{PROBE_VERSION}|{cpu_model()}|torch {torch.__version__}|threads {threads}|d{d_model} h{n_heads} ff{d_ff}"


def probe_cpu(d_model: int, n_heads: int, d_ff: int, *, use_cache: bool = True) -> dict:
    """Measured choice for the CPU (cached): {"autocast", "attention", "muon_ns", "source",
    "measured", "key", "probe_s"}."""
    threads = torch.get_num_threads()
    key = _key(d_model, n_heads, d_ff, threads)
    path = cache_path()
    cache: dict = {}
    if use_cache:
        try:
            with open(path, encoding="utf-8") as f:
                cache = json.load(f)
            if not isinstance(cache, dict):
                cache = {}
        except (OSError, ValueError):
            cache = {}
        hit = cache.get(key)
        if isinstance(hit, dict) and all(hit.get(k) in v for k, v in CHOICES.items()):
            return {**hit, "source": "cached probe", "cache": str(path)}
    t = time.perf_counter()
    m = measure(d_model, n_heads, d_ff)
    out = {**decide(m), "measured": m, "key": key, "probe_s": round(time.perf_counter() - t, 2)}
    if use_cache:
        cache[key] = out
        try:
            atomic_write_json(path, cache)
        except OSError:  # a read-only home: measure again next time
            pass
    return {**out, "source": "probe", "cache": str(path)}


def choose(device: torch.device, d_model: int, n_heads: int, d_ff: int, *,
           autocast: str = "auto", attention: str = "auto", muon_ns: str = "auto",
           use_cache: bool = True) -> dict:
    """The precision and kernels a training run uses: explicit settings win, then
    ``HELIX_PRECISION``, then (CPU) the measured probe or (CUDA) bf16 + SDPA."""
    explicit = {k: v for k, v in (("autocast", autocast), ("attention", attention), ("muon_ns", muon_ns))
                if v and v != "auto"}
    for k, v in explicit.items():
        if v not in CHOICES[k]:
            raise ValueError(f"{k} must be auto or one of {', '.join(CHOICES[k])}, not {v!r}")
    forced = {**parse_forced(os.environ.get("HELIX_PRECISION")), **explicit}
    if device.type == "cuda":
        base = {"autocast": "bf16", "attention": "sdpa", "muon_ns": "bf16", "source": "cuda default"}
    elif set(forced) >= set(CHOICES):
        base = {"source": "forced"}
    else:
        base = probe_cpu(d_model, n_heads, d_ff, use_cache=use_cache)
    out = {**base, **forced}
    if forced:
        out["forced"] = sorted(forced)
    return out


def flush_denormals() -> bool:
    """Flush subnormal floats to zero on the CPU (FTZ/DAZ) for the rest of the process.
    Measured here (AMD EPYC, fp32 training of the tiny preset): without it, steps slow down up
    to 6x once gradients and moments hold subnormal values, with the same losses either way
    (docs/RESULTS.md). Returns whether the CPU supports it. Library code uses
    :func:`denormals_flushed`, which puts the default back afterwards."""
    return bool(torch.set_flush_denormal(True))


@contextlib.contextmanager
def denormals_flushed():
    """Subnormals flushed inside the block, the default (not flushed) restored after it: the
    setting is per thread and also changes Python's float arithmetic, so it must not leak."""
    supported = flush_denormals()
    try:
        yield supported
    finally:
        torch.set_flush_denormal(False)


def describe(choice: dict) -> str:
    """One line for logs: ``autocast off, attention explicit, Muon Newton-Schulz fp32 (probe)``."""
    forced = choice.get("forced") or []
    def tag(k):
        return " (forced)" if k in forced else ""
    return (f"autocast {choice['autocast']}{tag('autocast')}, attention {choice['attention']}{tag('attention')}, "
            f"Muon Newton-Schulz {choice['muon_ns']}{tag('muon_ns')}"
            + (", subnormals flushed" if choice.get("flush_denormal") else "") + f" [{choice.get('source', '?')}]")
