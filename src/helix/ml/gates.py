"""Quality gates: greedy decoding of fixed requests, checked by exact match, plus exact match and
parse validity on a fixed validation sample.

A gate passes when every gate request comes out exactly right (and, for the coordinator, with the
right route) and the validation sample reaches ``min_exact`` exact match.
"""

from __future__ import annotations

from helix.hlx.convert import encode
from helix.ml import hlxcheck
from helix.ml.generate import generate_requests
from helix.ml.tokenizer import route_for

# "Store number 42" means the integer-literal contract {14: {@0: 42}} in every form (the seed);
# its LC-B text is the language core's, not hand-written.
_STORE_42_LCB = encode({14: {"@0": 42}}, "lc_b")

# (src_fmt, src, tgt_fmt, expected target text): the seed's gate requests per brain.
GATE_REQUESTS: dict[str, list[tuple[str, str, str, str]]] = {
    "ascii": [
        ("english", "Represent true", "lc_t", "[TRUE]"),
        ("english", "Create array [1,2]", "lc_t", "[ARR_START, INT(1), INT(2), ARR_END]"),
        ("english", "Store number 42", "lc_b", _STORE_42_LCB),
    ],
    "runic": [
        ("english", "Represent true", "lc_r", "⊤"),
        ("english", "Create array {1,2}", "lc_r", "🜃1, 2🜄"),
        ("english", "Store number 42", "lc_r", "🜊14🜁0 42🜂"),
        ("english", "Integer literal 42", "lc_r", "🜊14🜁0 42🜂"),
    ],
    "coordinator": [
        ("english", "Represent true", "hlxl", "true"),
        ("english", "Create array [1,2]", "hlx", "[1, 2]"),
        ("english", "Represent true", "lc_t", "[TRUE]"),
        ("english", "Store number 42", "lc_b", _STORE_42_LCB),
        ("english", "Create array [1,2]", "lc_r", "🜃1, 2🜄"),
        ("hlxl_ls", "let x = ls.collapse(42);\nreturn ls.resolve(x);",
         "hlx_ls", "x = collapse(42)\n__result__ = resolve(x)"),
        ("hlx", "True", "english", "Represent true"),
    ],
}


def fixed_sample(records: list[dict], n: int) -> list[dict]:
    """A fixed, spread-out sample of ``n`` records (every k-th; the same every epoch)."""
    if n <= 0 or not records:
        return []
    if len(records) <= n:
        return list(records)
    step = len(records) / n
    return [records[int(i * step)] for i in range(n)]


def score_outputs(brain: str, records: list[dict], gens) -> dict:
    """Exact match (text and, for the coordinator, route) and validity over records."""
    n = len(records)
    exact = 0
    valid_n = valid_ok = 0
    route_ok = 0
    for r, g in zip(records, gens):
        want_route = route_for(r["tgt_fmt"]) if brain == "coordinator" else None
        r_ok = g.route == want_route
        route_ok += r_ok
        if g.text == r["tgt"] and r_ok:
            exact += 1
        v = hlxcheck.is_valid(r["tgt_fmt"], g.text)
        if v is not None:
            valid_n += 1
            valid_ok += v
    return {
        "n": n,
        "exact_match": exact / n if n else None,
        "validity": valid_ok / valid_n if valid_n else None,
        "route_accuracy": (route_ok / n if n else None) if brain == "coordinator" else None,
    }


def run_gate(model, tok, brain: str, epoch: int, *, sample: list[dict], min_exact: float,
             requests: list[tuple[str, str, str, str]] | None = None, batch_size: int = 64,
             max_new_tokens: int = 256) -> dict:
    """Run one gate; returns a JSON-able result with ``passed``."""
    reqs = GATE_REQUESTS[brain] if requests is None else requests
    gens = generate_requests(model, tok, brain, [(a, b, c) for a, b, c, _ in reqs],
                             batch_size=batch_size, max_new_tokens=max_new_tokens)
    checks = []
    for (sf, src, tf, want), g in zip(reqs, gens):
        want_route = route_for(tf) if brain == "coordinator" else None
        ok = g.text == want and g.route == want_route
        checks.append({"src_fmt": sf, "src": src, "tgt_fmt": tf, "expected": want,
                       "got": g.text, "route": g.route, "ok": ok})
    sample_res = score_outputs(
        brain, sample,
        generate_requests(model, tok, brain, [(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in sample],
                          batch_size=batch_size, max_new_tokens=max_new_tokens),
    ) if sample else {"n": 0, "exact_match": None, "validity": None, "route_accuracy": None}
    req_ok = all(c["ok"] for c in checks)
    em = sample_res["exact_match"]
    sample_ok = em is None or em >= min_exact
    reasons = []
    if not req_ok:
        bad = [c for c in checks if not c["ok"]]
        reasons.append(f"{len(bad)}/{len(checks)} gate requests wrong (first: {bad[0]['src']!r} → "
                       f"{bad[0]['got'][:60]!r}, expected {bad[0]['expected'][:60]!r})")
    if not sample_ok:
        reasons.append(f"val exact match {em:.3f} < {min_exact:.3f}")
    return {
        "epoch": epoch,
        "passed": req_ok and sample_ok,
        "requests_passed": sum(c["ok"] for c in checks),
        "requests_total": len(checks),
        "requests": checks,
        "val_sample": sample_res,
        "min_exact": min_exact,
        "reason": "; ".join(reasons) or "ok",
    }
