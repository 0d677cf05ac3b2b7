"""Codec throughput of the five value forms, and the 100k-values-into-all-forms conversion time.

    .venv/bin/python benchmarks/bench_codecs.py [--n 10000] [--convert-n 100000] [--seed 0]

1. A fixed mixed corpus of ``--n`` values (seeded generator: Operation requests like the example
   corpora, nested pipelines, records, arrays, scalar literals, literal and named contracts).
   Per form: encode and decode throughput (values/s and MB/s of text; LC-B also as raw bytes).
2. ``--convert-n`` typical corpus values (Operation requests such as
   ``{1000: {"@0": "search", "@1": "&h_documents", "@2": "error"}}``) converted into all five
   forms (``encode_all``: normalize once, print five times), and the same values converted from
   their HLX text into the four other forms (``convert``). Target: < 30 s here.
3. Prefix checking: cost of one ``is_valid_prefix`` call during decoding-style use, over the first
   ``--prefix-values`` values (``--prefix-only``: this part alone).

Prints tables; asserts nothing (timing targets live here, not in tests).
"""

from __future__ import annotations

import argparse
import random
import time

from helix.hlx import lcb, prefix
from helix.hlx.convert import VALUE_FORMS, convert, decode, encode, encode_all
from helix.hlx.value import normalize

VERBS = ["search", "filter", "transform", "aggregate", "read", "write", "navigate", "sort", "limit",
         "skip", "copy", "move", "rename", "append", "batch", "backward", "delete", "count"]
NOUNS = ["documents", "users", "results", "database", "files", "logs", "list", "inputs", "orders",
         "records", "config", "images", "emails", "events", "metrics", "cache"]
TERMS = ["error", "config.json", "*.py", "name", "age", "desc", "asc", "warning", "timeout", "query",
         "/var/log/app.log", "café", "total", "price"]


def operation(rnd: random.Random) -> dict:
    verb = rnd.choice(VERBS)
    body = {"@0": verb, "@1": "&h_" + rnd.choice(NOUNS)}
    for i in range(2, 2 + rnd.randrange(3)):
        r = rnd.random()
        body[f"@{i}"] = rnd.choice(TERMS) if r < 0.5 else ("&h_" + rnd.choice(NOUNS) if r < 0.75 else rnd.randrange(1000))
    return {1000: body}


def value(rnd: random.Random, depth: int = 0):
    r = rnd.random()
    if r < 0.45:
        return operation(rnd)
    if r < 0.55:  # pipeline of operations
        return {1000: {"@0": "pipeline", "@1": [operation(rnd) for _ in range(rnd.randint(2, 4))]}}
    if r < 0.65:  # record
        return {k: scalar(rnd) for k in rnd.sample(["name", "age", "debug", "limits", "tags", "x", "y"], 3)}
    if r < 0.72:
        return [scalar(rnd) for _ in range(rnd.randint(0, 6))]
    if r < 0.80:
        return scalar(rnd)
    if r < 0.88:  # literal contracts 14..22 and positional 100..107
        return rnd.choice([{14: {"@0": rnd.randrange(-10**6, 10**6)}}, {16: {"@0": rnd.choice(TERMS)}},
                           {21: {"@0": None}}, {103: {"@0": "x", "@1": rnd.randrange(100)}},
                           {15: {"@0": rnd.random()}}])
    if r < 0.94:  # named contracts
        return {902: {"@0": "cube_renderer", "@1": ["&h_vert", "&h_frag"], "@2": [{"stage_idx": 0}], "@3": "&h_fb"}}
    return {901: {"@0": "reduce_sum", "@1": "&h_spirv_reduce", "@2": [256, 1, 1], "@3": 4096,
                  "@4": "1xuint32"}}


def scalar(rnd: random.Random):
    return rnd.choice([None, True, False, rnd.randrange(-1000, 100000), rnd.random() * 100,
                       rnd.choice(TERMS), b"\xde\xad\xbe\xef", "&h_" + rnd.choice(NOUNS)])


def corpus(n: int, seed: int) -> list:
    rnd = random.Random(seed)
    return [normalize(value(rnd)) for _ in range(n)]


def typical(n: int, seed: int) -> list:
    rnd = random.Random(seed + 1)
    return [operation(rnd) for _ in range(n)]


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def prefix_bench(values: list, repeat: int) -> None:
    """``is_valid_prefix`` as constrained decoding calls it: for every prefix of a value's text,
    each candidate next character (every character the form's texts use), then the prefix grows
    by one; the cache cleared before each text. Best of ``repeat``; µs per call."""
    print(f"\nprefix checking, decoding-style: {len(values)} mixed values, every prefix x every candidate "
          f"character; best of {repeat} (helix.hlx.prefix from {prefix.__file__})")
    for fmt in ("lc_r", "lc_t", "hlx", "hlxl", "lc_b"):
        texts = [encode(v, fmt) for v in values]
        cands = sorted(set("".join(texts)))

        def run():
            n = 0
            for text in texts:
                prefix._CACHE.clear()
                for i in range(len(text)):
                    p = text[:i]
                    for c in cands:
                        prefix.is_valid_prefix(p + c, fmt)
                    n += len(cands)
            return n

        calls = run()
        dt = best_of(run, repeat)
        print(f"  is_valid_prefix {fmt:5}: {dt / calls * 1e6:6.2f} µs/call ({calls:,} calls, "
              f"{sum(map(len, texts)) / len(texts):.0f} chars a text x {len(cands)} candidates)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--convert-n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--prefix-values", type=int, default=200, help="values of the prefix-checking part")
    ap.add_argument("--prefix-only", action="store_true", help="only the prefix-checking part")
    args = ap.parse_args()

    values = corpus(args.n, args.seed)
    if args.prefix_only:
        prefix_bench(values[: args.prefix_values], args.repeat)
        return
    print(f"mixed corpus: {len(values)} values (seed {args.seed}); best of {args.repeat}\n")
    print(f"{'form':6} {'encode v/s':>12} {'enc MB/s':>9} {'decode v/s':>12} {'dec MB/s':>9} {'avg chars':>9}")
    rows = {}
    for fmt in VALUE_FORMS:
        texts = [encode(v, fmt) for v in values]
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        te = best_of(lambda: [encode(v, fmt) for v in values], args.repeat)
        td = best_of(lambda: [decode(t, fmt) for t in texts], args.repeat)
        rows[fmt] = (te, td)
        print(f"{fmt:6} {len(values) / te:12,.0f} {mb / te:9.1f} {len(values) / td:12,.0f} {mb / td:9.1f}"
              f" {sum(map(len, texts)) / len(texts):9.1f}")
    raw = [lcb.dumps(v, normalized=True) for v in values]
    mb = sum(map(len, raw)) / 1e6
    te = best_of(lambda: [lcb.dumps(v, normalized=True) for v in values], args.repeat)
    td = best_of(lambda: [lcb.loads(b) for b in raw], args.repeat)
    print(f"{'lcb raw':6} {len(values) / te:12,.0f} {mb / te:9.1f} {len(values) / td:12,.0f} {mb / td:9.1f}"
          f" {sum(map(len, raw)) / len(raw):9.1f}  (bytes, pre-normalized)")

    ops = typical(args.convert_n, args.seed)
    print(f"\nconversion: {len(ops)} typical corpus values, e.g. {encode(ops[0], 'hlx')}")
    t = time.perf_counter()
    out = [encode_all(v) for v in ops]
    t_all = time.perf_counter() - t
    print(f"  values -> all five forms (encode_all):   {t_all:7.2f} s  ({len(ops) * 5 / t_all:,.0f} texts/s)")
    hlx_texts = [o["hlx"] for o in out]
    t = time.perf_counter()
    for s in hlx_texts:
        for dst in ("hlxl", "lc_t", "lc_b", "lc_r"):
            convert(s, "hlx", dst)
    t_conv = time.perf_counter() - t
    print(f"  HLX text -> four other forms (convert):   {t_conv:7.2f} s  ({len(ops) * 4 / t_conv:,.0f} texts/s)")
    per = {}
    for fmt in VALUE_FORMS:
        per[fmt] = best_of(lambda: [encode(v, fmt) for v in ops[:20000]], 1) * len(ops) / 20000
    print("  per form, extrapolated to all values (encode incl. normalize): "
          + ", ".join(f"{f} {s:.2f} s" for f, s in per.items()))
    print(f"  target < 30 s: {'OK' if t_all < 30 else 'MISSED'}")

    prefix_bench(values[: args.prefix_values], args.repeat)

if __name__ == "__main__":
    main()
