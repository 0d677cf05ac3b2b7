"""How the public example pairs (``../shared/examples/corpus_pairs.jsonl``) relate to the corpus.

The pairs are read at test/benchmark time only; nothing of them is stored in the project. Each
pair (English → value) is classified:

* ``generated``: the grammar reads the sentence as exactly that value, so the generator can
  produce the pair (the same convention);
* ``implicit``: the value holds an argument the sentence never names (a sentence about "a
  number" whose value is ``-7``), so no compositional convention can produce it;
* ``contradiction``: another pair with the same sentence frame (all words but the last) maps
  the frame differently, so the examples disagree with each other and one convention was chosen;
* ``nonspec_pipeline``: a pipeline whose stages are not an array (the spec's own vector nests a
  list of operations), a shape the corpus does not teach;
* ``uncovered``: none of the above: a convention the grammar is missing (the tests forbid it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from helix.corpus import numbers
from helix.corpus.english import parse_english_all
from helix.corpus.grammar import freeze
from helix.corpus.lexicon import handle_name
from helix.hlx import decode, encode
from helix.hlx.forms import VALUE_FORMS as FORMS

_TRUE_WORDS = {"true", "enable", "enabled", "on", "yes"}
_FALSE_WORDS = {"false", "disable", "disabled", "off", "no"}
_NULL_WORDS = {"null", "nothing", "empty", "none", "no"}


def default_pairs_path() -> Path:
    """``../shared/examples/corpus_pairs.jsonl`` relative to the repository root."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "examples" / \
        "corpus_pairs.jsonl"


def load_pairs(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def expressible(pair: dict) -> tuple[bool, Any]:
    """(True, value) if every form of the pair reads back to one value, else (False, None)."""
    try:
        v = decode(pair["hlx"], "hlx")
        for fmt in FORMS:
            if fmt in pair and pair[fmt] is not None:
                if freeze(decode(pair[fmt], fmt)) != freeze(v):
                    return False, None
        encode(v, "lc_b")
    except Exception:  # noqa: BLE001 - not expressible
        return False, None
    return True, v


def _tokens(english: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", english.lower()))


def _camel_words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)]


def unmentioned(english: str, value: Any) -> list[str]:
    """Leaves of ``value`` (arguments, record keys and values) the sentence never names."""
    toks = _tokens(english)
    low = english.lower()
    missing: list[str] = []

    def named(word: str) -> bool:
        return any(t.startswith(word) or (len(t) >= 3 and word.startswith(t)) for t in toks)

    def leaf(v: Any) -> None:
        if v is True:
            ok = bool(toks & _TRUE_WORDS)
        elif v is False:
            ok = bool(toks & _FALSE_WORDS)
        elif v is None:
            ok = bool(toks & _NULL_WORDS)
        elif type(v) is int:
            ok = str(abs(v)) in toks or (0 <= v <= 999 and all(
                w in toks for w in re.split(r"[- ]", numbers.int_to_words(v))))
        elif isinstance(v, float):
            ok = repr(v) in low
        elif isinstance(v, bytes):
            ok = v.hex() in low
        elif isinstance(v, str) and v.startswith("&h_"):
            ok = any(named(w) for w in _camel_words(v[3:]) if len(w) >= 2)
        elif isinstance(v, str):
            parts = re.findall(r"[a-z0-9]+", v.lower())
            ok = v.lower() in low or all(p in toks for p in parts)
        else:
            ok = True
        if not ok:
            missing.append(repr(v))

    def walk_ops(v: Any) -> None:
        # Operation verbs and contract ids are structure, not arguments.
        if isinstance(v, dict) and len(v) == 1 and type(next(iter(v))) is int:
            (cid, body), = v.items()
            for k, x in body.items():
                if cid == 1000 and k == "@0" and isinstance(x, str):
                    continue
                walk_ops(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str) and not k.startswith("@") and k.lower() not in toks:
                    missing.append(f"key {k}")
                walk_ops(x)
        elif isinstance(v, list):
            for x in v:
                walk_ops(x)
        else:
            leaf(v)

    walk_ops(value)
    return missing


def _frame(english: str) -> tuple[str, str]:
    words = english.split(" ")
    return " ".join(words[:-1] + ["<W>"]), words[-1]


def _template(value: Any, word: str) -> Any:
    names = {word, word.lower(), "&h_" + handle_name(word)}

    def sub(v):
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        if isinstance(v, str) and v in names:
            return "<W>"
        return v

    return freeze(sub(value))


def _nonspec_pipeline(value: Any) -> bool:
    found = False

    def walk(v):
        nonlocal found
        if isinstance(v, dict):
            if 1000 in v and isinstance(v[1000], dict) and v[1000].get("@0") == "pipeline":
                if not isinstance(v[1000].get("@1"), list):
                    found = True
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(value)
    return found


def classify(pairs: list[dict]) -> list[dict]:
    """One row per pair: english, status, detail."""
    checked = [expressible(p) for p in pairs]
    groups: dict[str, set] = {}
    for p, (ok, v) in zip(pairs, checked):
        if not ok:
            continue
        frame, word = _frame(p["english"])
        groups.setdefault(frame, set()).add(_template(v, word))
    rows = []
    for p, (ok, v) in zip(pairs, checked):
        row = {"english": p["english"]}
        if not ok:
            row.update(status="inexpressible", detail="")
            rows.append(row)
            continue
        readings = parse_english_all(p["english"])
        if len(readings) == 1 and freeze(readings[0][1]) == freeze(v):
            row.update(status="generated", detail=readings[0][0])
        elif _nonspec_pipeline(v):
            row.update(status="nonspec_pipeline", detail="stages are not an array")
        elif (miss := unmentioned(p["english"], v)):
            row.update(status="implicit", detail="unnamed: " + ", ".join(miss))
        elif len(groups.get(_frame(p["english"])[0], ())) > 1:
            got = encode(readings[0][1], "hlxl") if len(readings) == 1 else None
            row.update(status="contradiction", detail=f"corpus convention gives {got}")
        else:
            row.update(status="uncovered",
                       detail=f"{len(readings)} reading(s): "
                              + "; ".join(encode(r[1], "hlxl") for r in readings))
        rows.append(row)
    return rows


def corpus_sentences(directory: str | Path) -> set[str]:
    """Every English sentence (request or target) in a built corpus."""
    from helix.corpus.mixes import CORPORA, FILES

    out: set[str] = set()
    for c in CORPORA:
        p = Path(directory) / FILES[c]
        if not p.is_file():
            continue
        with open(p, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if r["src_fmt"] == "english":
                    out.add(r["src"])
                if r["tgt_fmt"] == "english":
                    out.add(r["tgt"])
    return out


def coverage_report(pairs: list[dict], corpus_dir: str | Path | None = None) -> dict:
    rows = classify(pairs)
    n = len(rows)
    expr = [r for r in rows if r["status"] != "inexpressible"]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    out = {"pairs": n, "expressible": len(expr), "by_status": dict(sorted(counts.items())),
           "generated_share": counts.get("generated", 0) / len(expr) if expr else 0.0,
           "rows": rows}
    if corpus_dir is not None:
        sents = corpus_sentences(corpus_dir)
        verbatim = [r["english"] for r in rows if r["english"] in sents]
        out["verbatim"] = len(verbatim)
        out["verbatim_share"] = len(verbatim) / n if n else 0.0
    return out
