"""A small synthetic corpus in the corpus record format (docs/CONVENTIONS.md), for tests and
smoke runs of the brains without the real corpus builder.

Values are limited to booleans, null, int arrays and the Int literal contract (14, also what
"Store number N" means), rendered by the language core. It includes the gate requests.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from helix.hlx.forms import VALUE_FORMS
from helix.ml.tokenizer import BRAINS, route_for
from helix.util import atomic_write_json, atomic_write_text


def _forms(v) -> dict[str, str]:
    """The five value forms of ``v`` (``("lit", n)`` stands for the Int literal contract 14),
    rendered by the language core."""
    from helix.hlx.convert import encode

    if isinstance(v, tuple) and v[0] == "lit":
        v = {14: {"@0": v[1]}}
    return {fmt: encode(v, fmt) for fmt in VALUE_FORMS}


# The fixed sentences (the gate requests among them), always in train. "Store number N" is the
# integer-literal contract, as in the real corpus; arrays are spelled with brackets or braces.
FIXED_SENTENCES: list[tuple[str, object]] = [
    ("Represent true", True), ("Represent false", False), ("Represent null", None),
    ("Create array [1,2]", [1, 2]), ("Store number 42", ("lit", 42)),
    ("Integer literal 42", ("lit", 42)), ("Create array {1,2}", [1, 2]),
]


def _sentences(rng: random.Random, n: int) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = list(FIXED_SENTENCES)
    while len(out) < n:
        k = rng.randrange(4)
        if k == 0:
            i = rng.randrange(0, 300)
            out.append((f"Store number {i}", ("lit", i)))
        elif k == 1:
            a, b = rng.randrange(10), rng.randrange(10)
            lo, hi = ("{", "}") if (a + b) % 3 == 0 else ("[", "]")
            out.append((f"Create array {lo}{a},{b}{hi}", [a, b]))
        elif k == 2:
            i = rng.randrange(0, 300)
            out.append((f"Integer literal {i}", ("lit", i)))
        else:
            out.append(rng.choice([("Represent true", True), ("Represent false", False),
                                   ("Represent null", None)]))
    return out


BRAIN_TARGETS = {"ascii": ("lc_t", "lc_b"), "runic": ("lc_r",), "coordinator": VALUE_FORMS}


def make_records(brain: str, n: int, seed: int = 0, val_frac: float = 0.1) -> list[dict]:
    """``n`` distinct-ish records for ``brain``; the first few (gate requests) are always train."""
    rng = random.Random(seed)
    recs = []
    seen = set()
    for i, (sent, v) in enumerate(_sentences(rng, 10 * n)):
        if len(recs) >= n:
            break
        forms = _forms(v)
        if brain == "coordinator" and sent.startswith("Represent") and rng.random() < 0.3:
            cand = [("hlx", forms["hlx"], "english", sent)]
        else:
            cand = [("english", sent, t, forms[t]) for t in BRAIN_TARGETS[brain]]
        for sf, src, tf, tgt in cand:
            if (sf, src, tf) in seen or len(recs) >= n:
                continue
            seen.add((sf, src, tf))
            fixed = i < len(FIXED_SENTENCES)
            split = ("train" if fixed or len(recs) < 12 or rng.random() > val_frac
                     else rng.choice(["val", "test"]))
            recs.append({"id": f"syn-{brain}-{len(recs):05d}", "split": split, "category": "synthetic",
                         "src_fmt": sf, "src": src, "tgt_fmt": tf, "tgt": tgt, "value": forms["hlx"],
                         "route": route_for(tf)})
    if brain == "coordinator":
        recs.append({"id": f"syn-{brain}-prog", "split": "train", "category": "program",
                     "src_fmt": "hlxl_ls", "src": "let x = ls.collapse(42);\nreturn ls.resolve(x);",
                     "tgt_fmt": "hlx_ls", "tgt": "x = collapse(42)\n__result__ = resolve(x)",
                     "value": None})
        recs.append({"id": f"syn-{brain}-hlx-true", "split": "train", "category": "synthetic",
                     "src_fmt": "hlx", "src": "True", "tgt_fmt": "english", "tgt": "Represent true",
                     "value": "True"})
    return recs


def write_corpus(out: str | Path, n: int = 200, seed: int = 0, brains=BRAINS) -> Path:
    out = Path(out)
    names = {"coordinator": "canonical.jsonl", "ascii": "ascii.jsonl", "runic": "runic.jsonl"}
    counts = {}
    for b in brains:
        recs = make_records(b, n, seed)
        counts[b] = len(recs)
        atomic_write_text(out / names[b], "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    atomic_write_json(out / "manifest.json", {"synthetic": True, "seed": seed, "counts": counts})
    return out
