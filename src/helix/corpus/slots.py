"""Slot kinds shared by the families: numbers, floats, texts, bytes, lists, records, fields.

Surfaces that look like HLXL (a list literal such as ``[1, 2]``) are written and read through
the language core, never formatted by hand.
"""

from __future__ import annotations

import random
import re

from helix.corpus import lexicon as L
from helix.corpus import numbers
from helix.corpus.grammar import Const, Int, Lex
from helix.hlx.convert import decode, encode
from helix.hlx.escape import format_float

# ------------------------------------------------------------------------------- numbers
FLOAT_REGEX = r"-?(?:0|[1-9][0-9]*)\.[0-9]+(?:e[+-][0-9]+)?"


def _sample_float(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.5:
        f = rng.randint(1, 999) / 100
    elif r < 0.8:
        f = rng.randint(1, 99) / 10
    else:
        f = rng.randint(1, 9999) / 1000
    if rng.random() < 0.1:
        f = -f
    if f == int(f):
        f += 0.5
    return float(f)


def _parse_float(s: str) -> float | None:
    f = float(s)
    return f if format_float(f) == s else None


def float_slot() -> Const:
    return Const(FLOAT_REGEX, _parse_float, _sample_float, lambda f, rng: format_float(f),
                 lambda f: type(f) is float and format_float(f) != "" and
                 re.fullmatch(FLOAT_REGEX, format_float(f)) is not None and abs(f) < 1e6)


def int_slot(lo: int = 0, hi: int = 1000, words: bool = True) -> Int:
    return Int(lo, hi, words=words)


def negative_slot(hi: int = 1000) -> Const:
    """Meaning ``-n`` written as ``n`` (``Negative integer 5`` → -5)."""
    inner = Int(1, hi)

    def parse(s):
        n = inner.parse(s)
        return None if not isinstance(n, int) else -n

    return Const(inner.regex, parse, lambda rng: -inner.sample(rng),
                 lambda sem, rng: inner.render(-sem, rng),
                 lambda sem: type(sem) is int and 1 <= -sem <= hi)


# ------------------------------------------------------------------------------- texts
def lex(entries, name: str = "") -> Lex:
    return Lex(entries, name=name)


def quoted_words_slot(max_words: int = 2) -> Const:
    """A short text in double quotes: ``"hello world"``."""
    words = set(L.WORDS)

    def parse(s):
        inner = s[1:-1]
        parts = inner.split(" ")
        if not 1 <= len(parts) <= max_words or any(p not in words for p in parts):
            return None
        return inner

    def sample(rng):
        return " ".join(rng.choice(L.WORDS) for _ in range(rng.randint(1, max_words)))

    return Const(r'"[a-z]+(?: [a-z]+)*"', parse, sample, lambda sem, rng: f'"{sem}"',
                 lambda sem: isinstance(sem, str) and parse(f'"{sem}"') == sem)


def quoted_text_slot(open_text, share=lambda: 0.5) -> Const:
    """A short text in double quotes: ``"hello world"`` from the word list, or (``share`` of the
    draws; a callable) ``open_text(rng)``: any one to four lower-case words or numbers, ``"good morning 7"``."""
    closed = quoted_words_slot()
    part = re.compile(r"[a-z]{1,12}|[0-9]{1,3}")

    def parse(s):
        parts = s[1:-1].split(" ")
        if not 1 <= len(parts) <= 4 or any(part.fullmatch(p) is None for p in parts):
            return None
        return s[1:-1]

    def sample(rng):
        sh = share()
        return open_text(rng) if sh > 0 and rng.random() < sh else closed.sample(rng)

    return Const(r'"[a-z0-9]+(?: [a-z0-9]+){0,3}"', parse, sample, lambda sem, rng: f'"{sem}"',
                 lambda sem: isinstance(sem, str) and parse(f'"{sem}"') == sem)


def word_slot() -> Lex:
    return Lex(L.texts(*L.WORDS), name="words")


# ------------------------------------------------------------------------------- bytes
def hex_slot(min_len: int = 1, max_len: int = 6) -> Const:
    def parse(s):
        h = s[2:]
        if len(h) % 2 or not min_len <= len(h) // 2 <= max_len:
            return None
        return bytes.fromhex(h)

    def sample(rng):
        return bytes(rng.randrange(256) for _ in range(rng.randint(min_len, max_len)))

    return Const(r"0x(?:[0-9a-f]{2})+", parse, sample, lambda b, rng: "0x" + b.hex(),
                 lambda b: type(b) is bytes and min_len <= len(b) <= max_len)


# ------------------------------------------------------------------------------- lists
_SCALAR_TYPES = (int, float, str, bool, type(None))


def _list_ok(v, min_n: int, max_n: int) -> bool:
    if not isinstance(v, list) or not min_n <= len(v) <= max_n:
        return False
    for x in v:
        if not isinstance(x, _SCALAR_TYPES) or (isinstance(x, str) and (
                x.startswith("&h_") or x not in L.WORDS)):
            return False
        if isinstance(x, float) and re.fullmatch(FLOAT_REGEX, format_float(x)) is None:
            return False
        if type(x) is int and not -1000 <= x <= 10**6:
            return False
    return True


def _sample_list(rng: random.Random, min_n: int, max_n: int) -> list:
    n = rng.randint(min_n, max_n)
    r = rng.random()
    if r < 0.6:
        return [Int(0, 1000).sample(rng) for _ in range(n)]
    if r < 0.72:
        return [_sample_float(rng) for _ in range(n)]
    if r < 0.87:
        return [rng.choice(L.WORDS) for _ in range(n)]
    pool = [lambda: Int(0, 100).sample(rng), lambda: rng.choice(L.WORDS),
            lambda: rng.random() < 0.5, lambda: None]
    return [rng.choice(pool)() for _ in range(n)]


#: share of English array requests that spell the list with braces (``{1,2}``), as the seed's
#: runic gate request ``Create array {1,2}`` does; English targets (rng None) keep brackets.
BRACE_SHARE = 0.3


def list_literal_slot(min_n: int = 1, max_n: int = 5) -> Const:
    """``[1, 2, 3]`` or ``[1,2,3]``, or the same in braces (``{1, 2, 3}``, ``{1,2,3}``): one
    value; elements ints, floats, words, booleans, null. Canonical: ``[1, 2, 3]``."""

    def parse(s):
        brace = s.startswith("{")
        if brace:
            if not s.endswith("}"):
                return None
            s = "[" + s[1:-1] + "]"
        v = decode(s, "hlxl")
        if not _list_ok(v, min_n, max_n):
            return None
        canonical = encode(v, "hlxl")
        if s not in (canonical, canonical.replace(", ", ",")):
            return None  # only the spellings the generator writes
        return v

    def render(v, rng):
        text = encode(v, "hlxl")
        if rng is not None and rng.random() < 0.5:
            text = text.replace(", ", ",")
        if rng is not None and rng.random() < BRACE_SHARE:
            text = "{" + text[1:-1] + "}"
        return text

    return Const(r"(?:\[[^\[\]{}]*\]|\{[^\[\]{}]*\})", parse,
                 lambda rng: _sample_list(rng, min_n, max_n), render,
                 lambda v: _list_ok(v, min_n, max_n))


_SMALL_WORDS = [numbers.int_to_words(i) for i in range(100)]
_SMALL_WORD_RE = "(?:" + "|".join(sorted(_SMALL_WORDS, key=lambda w: (-len(w), w))) + ")"


def number_words_list_slot(min_n: int = 2, max_n: int = 5) -> Const:
    """``one two three`` → ``[1, 2, 3]`` (0..99 each, so the split is unambiguous)."""

    def parse(s):
        parts = s.split(" ")
        vals = [numbers.words_to_int(p) for p in parts]
        if any(v is None or v > 99 for v in vals) or not min_n <= len(vals) <= max_n:
            return None
        return vals

    def sample(rng):
        return [Int(0, 99).sample(rng) for _ in range(rng.randint(min_n, max_n))]

    return Const(f"{_SMALL_WORD_RE}(?: {_SMALL_WORD_RE})*", parse, sample,
                 lambda v, rng: " ".join(numbers.int_to_words(x) for x in v),
                 lambda v: isinstance(v, list) and min_n <= len(v) <= max_n and all(
                     type(x) is int and 0 <= x <= 99 for x in v))


def names_list_slot(min_n: int = 2, max_n: int = 4) -> Const:
    names = set(L.NAMES)
    alt = "(?:" + "|".join(L.NAMES) + ")"

    def parse(s):
        parts = s.split(" ")
        if not min_n <= len(parts) <= max_n or any(p not in names for p in parts):
            return None
        return parts

    return Const(f"{alt}(?: {alt})*", parse,
                 lambda rng: rng.sample(L.NAMES, rng.randint(min_n, max_n)),
                 lambda v, rng: " ".join(v),
                 lambda v: isinstance(v, list) and parse(" ".join(v)) == v)


def join_and(parts: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def split_and(s: str) -> list[str] | None:
    parts = re.split(r", | and ", s)
    return parts if join_and(parts) == s else None


def lex_list_slot(lexicon: Lex, min_n: int = 2, max_n: int = 3) -> Const:
    """A list of lexicon meanings: ``users, orders and logs``; distinct items."""

    def parse(s):
        parts = split_and(s)
        if parts is None or not min_n <= len(parts) <= max_n:
            return None
        vals = [lexicon.parse(p) for p in parts]
        if any(not isinstance(v, str) for v in vals) or len(set(vals)) != len(vals):
            return None
        return vals

    def sample(rng):
        n = rng.randint(min_n, max_n)
        out: list = []
        while len(out) < n:
            v = lexicon.sample(rng)
            if v not in out:
                out.append(v)
        return out

    def render(v, rng):
        return join_and([lexicon.render(x, rng) for x in v])

    return Const(f"{lexicon.regex}(?:(?:, | and ){lexicon.regex})*", parse, sample, render,
                 lambda v: isinstance(v, list) and min_n <= len(v) <= max_n
                 and len(set(v)) == len(v) and all(lexicon.accepts(x) for x in v))


# ------------------------------------------------------------------------------- records
_PAIR_VAL = r'(?:-?(?:0|[1-9][0-9]*)|true|false|null|"[A-Za-z]+")'


def _render_scalar(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def _parse_scalar(s: str):
    if s == "true":
        return True
    if s == "false":
        return False
    if s == "null":
        return None
    if s.startswith('"'):
        return s[1:-1]
    return int(s)


def _record_value(kind: str, rng: random.Random):
    if kind == "int":
        return Int(0, 1000).sample(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "name":
        return rng.choice(L.NAMES)
    return rng.choice(L.WORDS)


def _record_value_ok(kind: str, v) -> bool:
    if kind == "int":
        return type(v) is int and 0 <= v <= 1000
    if kind == "bool":
        return type(v) is bool
    if kind == "name":
        return v in L.NAMES
    return v in L.WORDS


def record_pairs_slot(min_n: int = 1, max_n: int = 3) -> Const:
    """``x 10 and y 20``, ``name "Alice", age 30 and debug true`` → a record."""
    keys = L.RECORD_KEYS
    key_alt = "(?:" + "|".join(sorted(keys, key=lambda k: (-len(k), k))) + ")"
    pair = f"{key_alt} {_PAIR_VAL}"

    def parse(s):
        parts = split_and(s)
        if parts is None or not min_n <= len(parts) <= max_n:
            return None
        out = {}
        for p in parts:
            k, _, raw = p.partition(" ")
            if k not in keys or k in out:
                return None
            v = _parse_scalar(raw)
            if not _record_value_ok(keys[k], v):
                return None
            out[k] = v
        return dict(sorted(out.items()))

    def sample(rng):
        ks = rng.sample(sorted(keys), rng.randint(min_n, max_n))
        return dict(sorted((k, _record_value(keys[k], rng)) for k in ks))

    def render(v, rng):
        items = list(v.items())
        if rng is not None:
            rng.shuffle(items)
        return join_and([f"{k} {_render_scalar(x)}" for k, x in items])

    def accepts(v):
        return (isinstance(v, dict) and min_n <= len(v) <= max_n
                and all(k in keys and _record_value_ok(keys[k], x) for k, x in v.items()))

    return Const(f"{pair}(?:(?:, | and ){pair})*", parse, sample, render, accepts)


def fields_pairs_slot(min_n: int = 1, max_n: int = 3) -> Const:
    """``@0 5 and @2 "red"`` → ``{"@0": 5, "@2": "red"}``."""
    pair = rf"@[0-9] {_PAIR_VAL}"

    def ok(v) -> bool:
        return (type(v) is int and 0 <= v <= 1000) or type(v) is bool or v is None or (
            isinstance(v, str) and v in L.WORDS)

    def parse(s):
        parts = split_and(s)
        if parts is None or not min_n <= len(parts) <= max_n:
            return None
        out = {}
        for p in parts:
            k, _, raw = p.partition(" ")
            if k in out:
                return None
            v = _parse_scalar(raw)
            if not ok(v):
                return None
            out[k] = v
        return dict(sorted(out.items(), key=lambda kv: int(kv[0][1:])))

    def sample(rng):
        idx = sorted(rng.sample(range(6), rng.randint(min_n, max_n)))
        pool = [lambda: Int(0, 1000).sample(rng), lambda: rng.choice(L.WORDS),
                lambda: rng.random() < 0.5, lambda: None]
        weights = [5, 3, 1, 1]
        return {f"@{i}": rng.choices(pool, weights)[0]() for i in idx}

    def render(v, rng):
        items = list(v.items())
        if rng is not None:
            rng.shuffle(items)
        return join_and([f"{k} {_render_scalar(x)}" for k, x in items])

    def accepts(v):
        return (isinstance(v, dict) and min_n <= len(v) <= max_n and all(
            re.fullmatch(r"@[0-9]", k) and ok(x) for k, x in v.items()))

    return Const(f"{pair}(?:(?:, | and ){pair})*", parse, sample, render, accepts)


def assign_value_slot() -> Const:
    """A value assigned to a variable: an int (digits/words), true/false, or a Name."""
    num = Int(0, 1000)
    names = set(L.NAMES)
    name_alt = "(?:" + "|".join(L.NAMES) + ")"

    def parse(s):
        if s == "true":
            return True
        if s == "false":
            return False
        if s in names:
            return s
        n = num.parse(s)
        return n if isinstance(n, int) and not isinstance(n, bool) else None

    def sample(rng):
        r = rng.random()
        if r < 0.6:
            return num.sample(rng)
        if r < 0.75:
            return rng.random() < 0.5
        return rng.choice(L.NAMES)

    def render(v, rng):
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, str):
            return v
        return num.render(v, rng)

    def accepts(v):
        return type(v) is bool or (isinstance(v, str) and v in names) or num.accepts(v)

    return Const(f"(?:true|false|{name_alt}|{num.regex})", parse, sample, render, accepts)


def program_value_slot() -> Const:
    """A value inside a program request: an int, a quoted word, a short int list, true/false."""
    num = Int(0, 1000)
    words = set(L.WORDS)

    def parse(s):
        if s in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[s]
        if s.startswith('"'):
            return s[1:-1] if s[1:-1] in words else None
        if s.startswith("["):
            v = decode(s, "hlxl")
            if not (isinstance(v, list) and 1 <= len(v) <= 3 and all(
                    type(x) is int and 0 <= x <= 100 for x in v)):
                return None
            return v if s == encode(v, "hlxl") else None
        n = num.parse(s)
        return n if isinstance(n, int) else None

    def sample(rng):
        r = rng.random()
        if r < 0.55:
            return num.sample(rng)
        if r < 0.8:
            return rng.choice(L.WORDS)
        if r < 0.92:
            return [Int(0, 100).sample(rng) for _ in range(rng.randint(1, 3))]
        return rng.random() < 0.5

    def render(v, rng):
        if v is True or v is False or v is None:
            return {True: "true", False: "false", None: "null"}[v]
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return encode(v, "hlxl")
        return num.render(v, rng)

    def accepts(v):
        return parse(render(v, None)) == v and type(parse(render(v, None))) is type(v)

    return Const(rf'(?:true|false|null|"[a-z]+"|\[[0-9, ]*\]|{num.regex})', parse, sample,
                 render, accepts)
