"""Train / val / test assignment and the held-out combinations.

The split of a record is a function of its value (or program) and the seed only, so every record
about one value lands in one split, in every corpus: ``val`` and ``test`` can never share an
(src, tgt) pair with ``train``. ``test`` additionally gets every value that holds a held-out
combination: an Operation verb × noun pair (``("search", "&h_logs")``, nouns from the generic
data nouns only) or a held-out number.
Held-out items recombine seen parts: the verb, the noun and the number's words all occur in
``train``, only never together (numbers 21..999 that are not a multiple of ten, whose words
are made of the same tens and units words as other numbers).
Small families (constants, booleans, ...) and the quality-gate requests are pinned to ``train``.

``novel`` holds every value that names an open word (``helix.corpus.openwords``) held out by hash:
no training record of any corpus holds such a word, so the split measures copying of words a
brain has never seen. It takes precedence over the other hold-outs.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any, Iterable

from helix.corpus.grammar import GrammarFamily, freeze

VAL_PER_MILLE = 50
TEST_PER_MILLE = 30
COMBO_HOLDOUT_PERCENT = 8
NUMBER_HOLDOUT_PERCENT = 8
#: share of open words (by hash) held out for the ``novel`` split
NOVEL_WORD_PERCENT = 12
SPLITS = ("train", "val", "test", "novel")

# The quality gates' requests (from the seed; they must be in train, every target form).
GATE_REQUESTS: list[tuple[str, Any]] = [
    ("Represent true", True),
    ("Create array [1,2]", [1, 2]),
    ("Create array {1,2}", [1, 2]),
    ("Store number 42", {14: {"@0": 42}}),
    ("Integer literal 42", {14: {"@0": 42}}),
    ("Text literal hello", {16: {"@0": "hello"}}),
    ("Boolean true literal", {22: {"@0": True}}),
    ("Null literal", {21: {"@0": None}}),
]
GATE_PROGRAMS: list[str] = ["let x = ls.collapse(42);\nreturn ls.resolve(x);"]


def stable_int(*parts: object) -> int:
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big")


def op_combos(value: Any) -> list[tuple[str, str]]:
    """(verb, argument) pairs of every Operation in a value; arguments that are handles/texts."""
    out: list[tuple[str, str]] = []

    def walk(v):
        if isinstance(v, dict):
            if len(v) == 1 and 1000 in v and isinstance(v[1000], dict):
                body = v[1000]
                verb = body.get("@0")
                if isinstance(verb, str):
                    for k, a in body.items():
                        if k != "@0" and isinstance(a, str):
                            out.append((verb, a))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(value)
    return out


def value_numbers(value: Any) -> list[int | float]:
    """Every int and float in a value, in order (booleans are not numbers)."""
    out: list[int | float] = []

    def walk(v):
        if type(v) is int or type(v) is float:
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(value)
    return out


def value_ints(value: Any) -> list[int]:
    return [v for v in value_numbers(value) if type(v) is int]


@lru_cache(maxsize=1)
def pinned_values() -> tuple[frozenset, frozenset, frozenset]:
    """(pinned value keys, combos they hold, ints they hold): never held out."""
    from helix.corpus.families import FAMILIES

    keys, combos, ints = set(), set(), set()
    vals = [v for _, v in GATE_REQUESTS]
    for f in FAMILIES:
        if isinstance(f, GrammarFamily) and f.pinned:
            vals.extend(f.enumerate_values())
    for v in vals:
        keys.add(freeze(v))
        combos.update(op_combos(v))
        ints.update(value_ints(v))
    return frozenset(keys), frozenset(combos), frozenset(ints)


@lru_cache(maxsize=1)
def pinned_programs() -> frozenset:
    from helix.corpus.programs import PROGRAM_FAMILIES

    out = set(GATE_PROGRAMS)
    for f in PROGRAM_FAMILIES:
        if f.pinned:
            out.update(f.enumerate_programs())
    return frozenset(out)


def heldout_number(n: int, seed: int) -> bool:
    if not 21 <= n <= 999 or n % 10 == 0 or n in pinned_values()[2]:
        return False
    return stable_int(seed, "number", n) % 100 < NUMBER_HOLDOUT_PERCENT


@lru_cache(maxsize=1)
def holdout_nouns() -> frozenset:
    """Nouns a verb × noun hold-out may pick: the generic data nouns, which many verbs share,
    so every held-out noun and verb still occurs in train with other partners."""
    from helix.corpus.lexicon import DATA

    return frozenset(sem for _, sem in DATA)


def heldout_combo(combo: tuple[str, str], seed: int) -> bool:
    if combo[1] not in holdout_nouns() or combo in pinned_values()[1]:
        return False
    return stable_int(seed, "combo", combo[0], combo[1]) % 100 < COMBO_HOLDOUT_PERCENT


def heldout_parts(value: Any, seed: int, ints: Iterable[int] | None = None) -> list[str]:
    """Why a value is held out for test (empty: it is not)."""
    why = [f"{v}×{a}" for v, a in op_combos(value) if heldout_combo((v, a), seed)]
    why += [f"number {n}" for n in (value_ints(value) if ints is None else ints)
            if heldout_number(n, seed)]
    return why


_WORD_PIECE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def words_of(text: str) -> list[str]:
    """The lower-case words of a text, camelCase and snake_case split: ``retryCount`` → retry,
    count; ``/srv/max_depth`` → srv, max, depth."""
    return [w.lower() for w in _WORD_PIECE.findall(text)]


def _strings(v: Any, out: list[str]) -> list[str]:
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, dict):
        for k, x in v.items():
            if isinstance(k, str):
                out.append(k)
            _strings(x, out)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _strings(x, out)
    return out


@lru_cache(maxsize=1)
def closed_words() -> frozenset:
    """Every word the closed grammar uses: phrasings, lexicon surfaces and meanings, numbers,
    the gate requests (split as ``words_of`` splits, and each letter run whole, lower-cased:
    ``testdata``). These are never held out as novel; the lexical tokenizer keeps only them."""
    from helix.corpus import lexicon, numbers
    from helix.corpus.families import FAMILIES
    from helix.corpus.grammar import Lex, Open
    from helix.corpus.programs import PROGRAM_FAMILIES

    texts: list[str] = []
    for name in dir(lexicon):
        if name.isupper():
            _strings(getattr(lexicon, name), texts)
    texts += [numbers.int_to_words(i) for i in range(100)] + ["hundred"]
    texts += [e for e, _ in GATE_REQUESTS] + GATE_PROGRAMS
    texts += ["first then pipeline"]  # the pipeline family's joining words
    for f in [*FAMILIES, *PROGRAM_FAMILIES]:
        texts += [p.text if hasattr(p, "text") else p[0] for p in getattr(f, "phrasings", ())]
        texts.append(getattr(f, "program", ""))
        for kind in getattr(f, "slots", {}).values():
            kind = kind.base if isinstance(kind, Open) else kind
            if isinstance(kind, Lex):
                for surfaces, sem in kind.entries:
                    _strings([list(surfaces), sem], texts)
    runs = (m.lower() for t in texts for m in re.findall(r"[A-Za-z]{2,}", t))  # whole: testData
    return frozenset(w for t in texts for w in words_of(t)) | frozenset(runs)


def novel_word(word: str, seed: int) -> bool:
    """Is this (lower-case) word held out for the ``novel`` split?"""
    return (len(word) >= 3 and word not in closed_words()
            and stable_int(seed, "novel", word) % 100 < NOVEL_WORD_PERCENT)


def novel_words(value: Any, seed: int) -> list[str]:
    """The held-out open words a value names (empty: none)."""
    return [w for s in _strings(value, []) for w in words_of(s) if novel_word(w, seed)]


def split_for_value(value: Any, key: str, seed: int) -> str:
    """Split of a value (``key``: its canonical text, e.g. HLX form)."""
    if freeze(value) in pinned_values()[0]:
        return "train"
    if novel_words(value, seed):
        return "novel"
    if heldout_parts(value, seed):
        return "test"
    return _random_split(key, seed)


def split_for_program(program: str, ints: list[int], seed: int) -> str:
    if program in pinned_programs():
        return "train"
    if any(heldout_number(n, seed) for n in ints):
        return "test"
    return _random_split(program, seed)


def _random_split(key: str, seed: int) -> str:
    h = stable_int(seed, "split", key) % 1000
    if h < VAL_PER_MILLE:
        return "val"
    if h < VAL_PER_MILLE + TEST_PER_MILLE:
        return "test"
    return "train"
