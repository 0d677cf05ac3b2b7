"""Training throughput and MFU of the brains' transformer.

On CUDA (default: both full presets, bf16 autocast, torch.compile, fused AdamW)::

    python benchmarks/bench_train.py                       # coordinator-100m and specialist-50m
    python benchmarks/bench_train.py --batch-size 64 --seq-len 256 --steps 30

On CPU (``--device cpu``, or no GPU) it measures the tiny presets with the CPU recipe (Muon +
AdamW, batch 32, the lexical tokenizer's vocabulary and mean record length) along every precision
path side by side in one run: bf16 autocast on/off x SDPA/explicit attention x Newton-Schulz in
bf16/fp32, each with tokens/s, records/s and model FLOP utilisation against this machine's
measured fp32 matmul rate (helix.ml.precision), and marks the path the capability probe picks::

    python benchmarks/bench_train.py --device cpu --threads 2 ``--original`` adds the earlier system's loop side by side (fp32, Adam lr 1e-4,
batch 4, sequence 256, no compile). MFU = (6·N + 12·L·d·T) FLOPs per token × tokens/s over the
device's dense bf16 peak, looked up by device name (helix.ml.flops.PEAK_BF16).
Data are random full-length token rows (no padding), so the figures are the model's throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import torch

from helix.ml.config import get_preset
from helix.ml.flops import peak_bf16_flops, train_flops
from helix.ml.model import GPT, loss_fn


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench(preset: str, device: torch.device, *, batch: int, seq: int, steps: int, warmup: int,
          bf16: bool, compile_: bool, fused: bool, optimizer: str = "adamw", lr: float = 3e-4,
          compile_mode: str | None = None) -> dict:
    cfg = get_preset(preset)
    torch.manual_seed(0)
    model = GPT(cfg).to(device)
    fwd = torch.compile(model, mode=compile_mode) if compile_ else model
    if optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, fused=fused and device.type == "cuda")
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(5, cfg.vocab_size - 4, (batch, seq + 1), generator=g).to(device)
    inp, tgt = x[:, :-1].contiguous(), x[:, 1:].contiguous()
    w = torch.ones_like(tgt, dtype=torch.float32)
    amp = (torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext())
    ntok = batch * seq

    def step():
        with amp:
            logits = fwd(inp)
        loss = loss_fn(logits, tgt, w) / ntok
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    t0 = time.time()
    for _ in range(warmup):
        step()
    _sync(device)
    warm_s = time.time() - t0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.time()
    for _ in range(steps):
        loss = step()
    _sync(device)
    dt = time.time() - t0
    tps = ntok * steps / dt
    flops = train_flops(cfg, [seq] * batch) * steps / dt
    peak = peak_bf16_flops(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    return {
        "preset": preset, "params": model.num_params(), "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "batch": batch, "seq_len": seq, "bf16": bf16, "compile": compile_, "optimizer": optimizer,
        "steps": steps, "step_s": dt / steps, "tokens_per_s": tps, "tflops": flops / 1e12,
        "mfu": flops / peak if peak else None, "peak_tflops": peak / 1e12 if peak else None,
        "warmup_s": warm_s, "loss": float(loss.detach()),
        "max_mem_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
    }


CPU_PATHS = [(a, at, ns) for a in ("off", "bf16") for at in ("sdpa", "explicit") for ns in ("fp32", "bf16")]


def bench_cpu_path(preset: str, *, autocast: str, attention: str, muon_ns: str, batch: int, seq: int,
                   vocab: int, steps: int) -> dict:
    import dataclasses

    from helix.ml.optim import build_optimizer

    cfg = dataclasses.replace(get_preset(preset), vocab_size=vocab)
    torch.manual_seed(0)
    model = GPT(cfg)
    model.set_attention(attention)
    opt = build_optimizer(model, kind="muon", lr=1e-3, weight_decay=0.05, betas=(0.9, 0.95),
                          muon_ns_dtype=muon_ns)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(20, vocab, (batch, seq + 1), generator=g)
    inp, tgt = x[:, :-1].contiguous(), x[:, 1:].contiguous()
    w = torch.ones_like(tgt, dtype=torch.float32)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast == "bf16"):
            logits = model(inp)
        (loss_fn(logits, tgt, w) / w.sum()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    return {"preset": preset, "autocast": autocast, "attention": attention, "muon_ns": muon_ns,
            "batch": batch, "seq_len": seq, "step_s": dt, "tokens_per_s": batch * seq / dt,
            "records_per_s": batch / dt, "flops_per_s": train_flops(cfg, [seq] * batch) / dt}


def main_cpu(a) -> int:
    from helix.ml import precision

    precision.flush_denormals()
    threads = torch.get_num_threads()
    machine = precision.machine_summary()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, {threads} threads, torch {machine['torch']}, "
          f"native bf16: {machine['native_bf16']} ({', '.join(machine['isa'])})")
    batch, seq = a.batch_size or 32, a.seq_len or 48  # the CPU recipe: batch 32, ~48 lexical tokens a record
    vocab = 1600  # the lexical tokenizer's padded vocabulary on the default corpus
    results = []
    for preset in (a.presets.split(",") if a.presets else ["coordinator-tiny"]):
        cfg = get_preset(preset)
        m = precision.measure(cfg.d_model, cfg.n_heads, cfg.d_ff, batch=batch, seq=seq)
        pick = precision.decide(m)
        peak = m["matmul_fp32_gflops"] * 1e9
        print(f"{preset}: measured fp32 matmul {m['matmul_fp32_gflops']:.1f} GFLOP/s, bf16 "
              f"{m['matmul_bf16_gflops']:.1f} GFLOP/s; the probe picks autocast {pick['autocast']}, "
              f"attention {pick['attention']}, Newton-Schulz {pick['muon_ns']}")
        print(f"{'autocast':>8} {'attention':>9} {'NS':>5} {'ms/step':>9} {'tok/s':>9} {'records/s':>9} "
              f"{'MFU':>6} {'vs pick':>8}")
        rows = []
        for autocast, attention, ns in CPU_PATHS:
            slow = autocast == "bf16" or ns == "bf16"
            r = bench_cpu_path(preset, autocast=autocast, attention=attention, muon_ns=ns, batch=batch,
                               seq=seq, vocab=vocab, steps=max(1, (a.steps or 6) // (3 if slow else 1)))
            r["mfu_vs_fp32_matmul"] = r["flops_per_s"] / peak
            r["picked"] = (autocast, attention, ns) == (pick["autocast"], pick["attention"], pick["muon_ns"])
            rows.append(r)
        best = next(r for r in rows if r["picked"])
        for r in rows:
            r["vs_pick"] = r["tokens_per_s"] / best["tokens_per_s"]
            print(f"{r['autocast']:>8} {r['attention']:>9} {r['muon_ns']:>5} {r['step_s'] * 1e3:>9.1f} "
                  f"{r['tokens_per_s']:>9,.0f} {r['records_per_s']:>9.1f} {100 * r['mfu_vs_fp32_matmul']:>5.1f}% "
                  f"{r['vs_pick']:>7.2f}x" + ("  <- probe's pick" if r["picked"] else ""), flush=True)
        results.append({"preset": preset, "machine": machine, "threads": threads, "probe": m, "pick": pick,
                        "paths": rows})
    if a.json_out:
        from helix.util import atomic_write_json

        atomic_write_json(a.json_out, results)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--presets", default=None, help="comma-separated (default: full presets on CUDA, tiny on CPU)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--compile-mode", default=None, help="e.g. max-autotune")
    ap.add_argument("--original", action="store_true", help="also time the original recipe's loop")
    ap.add_argument("--original-steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json-out", default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(a.device)
    cuda = device.type == "cuda"
    if not cuda:
        return main_cpu(a)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    presets = (a.presets.split(",") if a.presets else
               (["coordinator-100m", "specialist-50m"] if cuda else ["coordinator-tiny", "specialist-tiny"]))
    batch = a.batch_size or (64 if cuda else 16)
    seq = a.seq_len or (256 if cuda else 128)
    steps = a.steps or (30 if cuda else 5)
    warmup = a.warmup if a.warmup is not None else (8 if cuda else 2)
    results = []
    for p in presets:
        r = bench(p, device, batch=batch, seq=seq, steps=steps, warmup=warmup, bf16=cuda,
                  compile_=cuda and not a.no_compile, fused=True, compile_mode=a.compile_mode)
        r["loop"] = "helix"
        results.append(r)
        _print(r)
        if a.original:
            o = bench(p, device, batch=4, seq=256, steps=a.original_steps or (30 if cuda else 3),
                      warmup=3 if cuda else 1, bf16=False, compile_=False, fused=False,
                      optimizer="adam", lr=1e-4)
            o["loop"] = "original"
            o["slowdown_vs_helix"] = r["tokens_per_s"] / o["tokens_per_s"]
            results.append(o)
            _print(o)
        if cuda:
            torch.cuda.empty_cache()
    if a.json_out:
        from helix.util import atomic_write_json

        atomic_write_json(a.json_out, results)
    return 0


def _print(r: dict) -> None:
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a"
    extra = f"  ({r['slowdown_vs_helix']:.1f}x slower than helix)" if "slowdown_vs_helix" in r else ""
    mem = f" mem {r['max_mem_bytes'] / 2**30:.1f} GiB" if r["max_mem_bytes"] else ""
    print(f"{r['loop']:<8} {r['preset']:<17} {r['device_name']:<24} B={r['batch']:<3} T={r['seq_len']:<3} "
          f"{'bf16' if r['bf16'] else 'fp32'} {'compiled' if r['compile'] else 'eager'} "
          f"{r['tokens_per_s']:>12,.0f} tok/s {r['tflops']:8.2f} TFLOP/s MFU {mfu}{mem}{extra}",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
