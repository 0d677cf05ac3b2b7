"""English ↔ value over every family: ``parse_english`` and ``describe``.

``parse_english_all(sentence)`` returns every value any family reads the sentence as (the corpus
only keeps sentences with exactly one reading); ``parse_english`` returns that one value or None.
``describe(value)`` returns the one canonical sentence for a value (or None if no family can say
it); ``parse_english(describe(v)) == v`` for every value the corpus holds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from helix.corpus.families import FAMILIES
from helix.corpus.grammar import Family, freeze, signature


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, list[Family]], list[Family], dict[tuple, list[Family]],
                      list[Family]]:
    by_word: dict[str, list[Family]] = {}
    wild: list[Family] = []
    for f in FAMILIES:
        for w in f.first_words():
            if w is None:
                if f not in wild:
                    wild.append(f)
            else:
                lst = by_word.setdefault(w, [])
                if f not in lst:
                    lst.append(f)
    by_sig: dict[tuple, list[Family]] = {}
    generic: list[Family] = []
    for f in FAMILIES:
        sig = getattr(f, "sig", None)
        if sig is None:
            generic.append(f)
            continue
        by_sig.setdefault(sig, []).append(f)
    return by_word, wild, by_sig, generic


def candidate_families(english: str) -> list[Family]:
    by_word, wild, _, _ = _index()
    first = english.split(" ", 1)[0].lower()
    seen = list(by_word.get(first, []))
    for f in wild:
        if f not in seen:
            seen.append(f)
    return seen


def parse_english_all(english: str) -> list[tuple[str, Any]]:
    """Every distinct reading ``(family id, value)`` of a sentence."""
    out: dict[Any, tuple[str, Any]] = {}
    for f in candidate_families(english):
        for v in f.parse(english):
            out.setdefault(freeze(v), (f.fid, v))
    return list(out.values())


def parse_english(english: str) -> Any:
    """The value a sentence means, or None when it has no reading or more than one.

    (A sentence that means ``null`` also returns None; use :func:`parse_english_all`.)
    """
    readings = parse_english_all(english)
    if len(readings) != 1:
        return None
    return readings[0][1]


def _describe_families(value: Any) -> list[Family]:
    _, _, by_sig, generic = _index()
    sig = signature(value)
    cands = list(by_sig.get(sig, []))
    if sig[0] == "op":
        cands += by_sig.get(("op", "*", sig[2]), [])
    cands += generic
    # templates whose root is a bare slot (S) match any value of the right kind
    cands += [f for f in by_sig.get(("*",), []) if f not in cands]
    order = _order()
    cands.sort(key=lambda f: order[id(f)])
    return cands


@lru_cache(maxsize=1)
def _order() -> dict[int, int]:
    return {id(f): i for i, f in enumerate(FAMILIES)}


def describe(value: Any) -> str | None:
    """The canonical English sentence for ``value`` (first family in registry order)."""
    for f in _describe_families(value):
        d = f.describe(value)
        if d is not None:
            return d
    return None


def describe_family(value: Any) -> str | None:
    """Id of the family whose phrasing :func:`describe` uses."""
    for f in _describe_families(value):
        if f.describe(value) is not None:
            return f.fid
    return None
