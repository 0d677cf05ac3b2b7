"""`helix eval --system`: each brain alone and the system (:mod:`helix.system.answer`), side by side
per target form, on a corpus split or a pairs file.

The records: for every value form F, the split's records whose target is F, from the corpus of the
brain F routes to (LC-T and LC-B from the ASCII corpus, LC-R from the runic one, HLXL and HLX from
the coordinator's), at most ``limit`` per form spread over the split; with a pairs file, its
(English -> F) pairs. Each brain answers every record greedily in F on its own; the system answers
through the answer path. English-source records are reported on their own line (the rest, HLX ->
HLX, the core converts exactly).
"""

from __future__ import annotations

import time
from pathlib import Path

from helix.ml.tokenizer import BRAINS
from helix.system.router import VALUE_FORMS, expert_for


def spread(records: list[dict], n: int | None) -> list[dict]:
    """At most ``n`` records spread evenly over the list (all of them when ``n`` is 0 or None)."""
    if not n or len(records) <= n:
        return list(records)
    step = len(records) / n
    return [records[int(i * step)] for i in range(n)]


def system_records(corpus: str | Path, split: str = "test", limit: int | None = None) -> list[dict]:
    """Per value form, its records of the routed brain's corpus (at most ``limit``, spread)."""
    from helix.ml.data import load_records

    out, cache = [], {}
    for f in VALUE_FORMS:
        brain = expert_for(f)
        if brain not in cache:
            cache[brain] = load_records(corpus, brain, split)
        out.extend(spread([r for r in cache[brain] if r["tgt_fmt"] == f], limit))
    return out


def _tally(rows: list[dict], key: str) -> dict:
    n = len(rows)
    sem = [r[key + "_sem"] for r in rows if r[key + "_sem"] is not None]
    return {"n": n, "exact_match": sum(r[key] for r in rows) / n if n else None,
            "semantic_match": sum(sem) / len(sem) if sem else None}


def evaluate_system(run_dir: str | Path, *, corpus: str | Path | None = None, split: str = "test",
                    pairs: str | Path | None = None, to: str | None = None, limit: int | None = None,
                    system=None, device: str = "cpu", max_new_tokens: int = 256) -> dict:
    """Exact and semantic match per target form: each brain alone, the system (JSON-able)."""
    from helix.ml import hlxcheck
    from helix.system.ask import get_system

    s = system if system is not None else get_system(run_dir, device)
    if pairs is not None:
        from helix.ml.evaluate import pairs_to_records

        if to is None:
            raise ValueError("--pairs needs --to FORMAT")
        recs = pairs_to_records(pairs, to)[: limit or None]
        source = {"pairs": str(pairs), "to": to}
    elif corpus is not None:
        recs = system_records(corpus, split, limit)
        if to is not None:
            recs = [r for r in recs if r["tgt_fmt"] == to]
        source = {"corpus": str(corpus), "split": split, "limit_per_form": limit}
    else:
        raise ValueError("evaluate_system needs a corpus or a pairs file")
    recs = [r for r in recs if r["tgt_fmt"] in VALUE_FORMS]
    reqs = [(r["src_fmt"], r["src"], r["tgt_fmt"]) for r in recs]
    t0 = time.time()
    rows = [dict(fmt=r["tgt_fmt"], english=r["src_fmt"] == "english") for r in recs]
    alone = {}
    for b in BRAINS:
        try:
            gens = s.brain(b).generate(reqs, max_new_tokens=max_new_tokens)
        except Exception:  # noqa: BLE001 - a brain the run lacks has no column
            continue
        alone[b] = True
        for row, r, g in zip(rows, recs, gens):
            row[b] = g.text == r["tgt"]
            row[b + "_sem"] = hlxcheck.semantic_match(r["tgt_fmt"], g.text, r["tgt"])
    t1 = time.time()
    answers = s.answer_records(reqs, max_new_tokens=max_new_tokens)
    t2 = time.time()
    for row, r, a in zip(rows, recs, answers):
        text = a.text if a.ok else None
        row["system"] = text == r["tgt"]
        row["system_sem"] = hlxcheck.semantic_match(r["tgt_fmt"], text, r["tgt"]) if text is not None else False
    cols = [*alone, "system"]
    formats = {}
    for f in VALUE_FORMS:
        sub = [row for row in rows if row["fmt"] == f]
        if sub:
            formats[f] = {c: _tally(sub, c) for c in cols}
            formats[f]["routed"] = expert_for(f)
    eng = [row for row in rows if row["english"]]
    return {"run": str(s.run_dir) if s.run_dir else None, "source": source, "n": len(rows),
            "formats": formats,
            "overall": {c: _tally(rows, c) for c in cols},
            "english_source": {c: _tally(eng, c) for c in cols},
            "answer_forms": {b: list(v) for b, v in s.answer_forms.items()}, "forms_from": s.forms_from,
            "seconds": {"brains_alone": round(t1 - t0, 1), "system": round(t2 - t1, 1)}}


def format_system_table(rep: dict, metric: str = "exact_match") -> str:
    """Per target form: each brain alone, the routed one marked, and the system."""
    cols = list(rep["overall"])

    def pct(d):
        v = d.get(metric)
        return "-" if v is None else f"{100 * v:.1f}%"

    head = f"{'target':8} {'n':>5}  " + "  ".join(f"{c:>12}" for c in cols)
    lines = [f"{metric.replace('_', ' ')}, each brain alone and the system ({rep['source']})", head]
    for f, d in rep["formats"].items():
        cells = [(pct(d[c]) + ("*" if c == d["routed"] else " ")) for c in cols]
        lines.append(f"{f:8} {d['system']['n']:>5}  " + "  ".join(f"{x:>12}" for x in cells))
    for name in ("overall", "english_source"):
        d = rep[name]
        lines.append(f"{name.split('_')[0]:8} {d['system']['n']:>5}  " + "  ".join(f"{pct(d[c]) + ' ':>12}" for c in cols))
    lines.append("* the brain the router sends that form to; the system answers from every brain's candidates "
                 f"(extra forms {rep['answer_forms']}, {rep['forms_from']})")
    return "\n".join(lines)
