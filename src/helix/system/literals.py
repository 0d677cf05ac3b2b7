"""Does an answer carry the request's literals? The copy check of `helix ask` and the server.

A brain that has not learned to copy a word it has never seen swaps in one it knows, and the
answer still parses. The language core cannot see that, but the request itself can: the literals
a user writes (quoted text, paths, globs, file and host names, identifiers such as ``retryCount``
or ``max_retries``, numbers) must come through into the answer's value unchanged.
:func:`request_literals` finds them in the English request; :func:`copy_check` looks for each in
the answer: in its strings, handle names, field names and numbers (or, for an English answer, in
its text). Pure Python, no torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

# the order matters: each pattern's matches are masked before the next one runs
_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("text", re.compile(r'"([^"\n]+)"|\'([^\'\n]+)\'')),
    ("path", re.compile(r"(?<![\w/])(?:~|\.{1,2})?/[\w.\-*?/]*[\w*?]")),
    ("glob", re.compile(r"(?<![\w.])[\w.\-]*[*?][\w.\-*?]*")),
    ("name", re.compile(r"(?<![\w.])[A-Za-z_][\w\-]*(?:\.[\w\-]+)+(?![\w.])")),
    ("identifier", re.compile(r"(?<![\w.])(?:[a-z]+[A-Z]\w*|[A-Za-z]\w*_\w+|_\w+|[A-Za-z]+\d+[A-Za-z\d]*)(?![\w.])")),
    ("number", re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")),
)


@dataclass(frozen=True)
class Literal:
    kind: str  # text | path | glob | name | identifier | number
    text: str
    start: int  # offset in the request


def request_literals(text: str) -> list[Literal]:
    """The literals of an English request, in the order they appear."""
    found: list[Literal] = []
    masked = text
    for kind, pat in _PATTERNS:
        for m in pat.finditer(masked):
            lit = next((g for g in m.groups() if g), None) if m.groups() else m.group(0)
            lit = lit if lit is not None else m.group(0)
            found.append(Literal(kind, lit, m.start()))
        masked = pat.sub(lambda m: " " * len(m.group(0)), masked)
    return sorted(found, key=lambda x: x.start)


def value_atoms(value) -> tuple[list[str], list[float]]:
    """Every string (handles without their ``&h_``, field names) and number in an HLX value."""
    strings: list[str] = []
    numbers: list[float] = []

    def walk(v, depth=0):
        if depth > 64:
            return
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, (int, float)):
            numbers.append(float(v))
        elif isinstance(v, str):
            strings.append(v[3:] if v.startswith("&h_") else v)
        elif isinstance(v, (bytes, bytearray)):
            strings.append(bytes(v).decode("utf-8", "replace"))
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str) and not k.startswith("@"):
                    strings.append(k)
                elif isinstance(k, int) and not isinstance(k, bool):
                    pass  # a contract id, not the user's number
                walk(x, depth + 1)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x, depth + 1)

    walk(value)
    return strings, numbers


def _carried(lit: Literal, strings: list[str], numbers: list[float]) -> bool:
    if lit.kind == "number":
        x = float(lit.text)
        if any(math.isclose(x, n, rel_tol=0, abs_tol=1e-9) for n in numbers):
            return True
    return any(lit.text == s or lit.text in s for s in strings)


def copy_check(request: str, answer_text: str, answer_fmt: str) -> dict:
    """{"literals": [{kind, text, carried}], "missing": [...], "ok": bool}; the answer is read in
    its form by the language core (an English answer is searched as text)."""
    lits = request_literals(request)
    if answer_fmt == "english":
        strings, numbers = [answer_text], []
    else:
        from helix.hlx import decode

        try:
            strings, numbers = value_atoms(decode(answer_text, answer_fmt))
        except Exception:  # noqa: BLE001 - an answer that does not parse carries nothing
            strings, numbers = [], []
    rows = [{**asdict(x), "carried": _carried(x, strings, numbers)} for x in lits]
    missing = [r for r in rows if not r["carried"]]
    return {"literals": rows, "missing": missing, "ok": not missing}


def describe_missing(check: dict) -> str:
    return ", ".join(f"{r['kind']} {r['text']!r}" for r in check["missing"])
