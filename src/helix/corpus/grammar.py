"""The template grammar: English phrasings with typed slots, tied to a value template.

A :class:`Family` is one convention: a value template (a value with :class:`S` slot markers in
it) and several English phrasings that all mean that value. Generating fills every slot from its
:class:`SlotKind`; parsing matches a sentence against the phrasings and rebuilds the value;
describing (value → English) matches the value against the template and writes the first
phrasing with every slot's canonical surface. So English → value is a function (many sentences
may mean one value) and value → English is a function too (one canonical sentence per value).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from helix.corpus import numbers

_NO = object()  # "does not parse"


def freeze(v: Any) -> Any:
    """A hashable, type-exact key for a value (``True`` and ``1`` stay different)."""
    if isinstance(v, list):
        return ("L", tuple(freeze(x) for x in v))
    if isinstance(v, tuple):
        return ("T", tuple(freeze(x) for x in v))
    if isinstance(v, dict):
        return ("D", tuple((freeze(k), freeze(x)) for k, x in v.items()))
    return (type(v).__name__, v)


# ------------------------------------------------------------------------------ slot kinds
class SlotKind:
    """How one slot is written, read and drawn. Subclasses override the five methods."""

    regex: str = ".+?"
    #: part of the verb × noun hold-out (its meanings name nouns)
    combo: bool = False

    def parse(self, s: str) -> Any:  # surface → meaning, or _NO
        raise NotImplementedError

    def sample(self, rng: random.Random) -> Any:  # a random meaning
        raise NotImplementedError

    def render(self, sem: Any, rng: random.Random | None) -> str:  # rng None: canonical
        raise NotImplementedError

    def accepts(self, sem: Any) -> bool:  # is this meaning in the slot's domain
        return self.parse(self.render(sem, None)) is not _NO and freeze(
            self.parse(self.render(sem, None))) == freeze(sem)

    def from_parts(self, parts: dict) -> Any:
        """The meaning from the pieces a value template holds (``S(name, part)``)."""
        if set(parts) != {None}:
            return _NO
        return parts[None]


class Lex(SlotKind):
    """A closed word list: ``[(surfaces, meaning), ...]``; the first surface is canonical."""

    def __init__(self, entries: Iterable[tuple[tuple[str, ...], Any]], *, combo: bool = False,
                 name: str = "") -> None:
        self.entries = list(entries)
        self.combo = combo
        self.name = name
        self._by_surface: dict[str, Any] = {}
        self._by_sem: dict[Any, tuple[str, ...]] = {}
        for surfaces, sem in self.entries:
            for s in surfaces:
                if s in self._by_surface and freeze(self._by_surface[s]) != freeze(sem):
                    raise ValueError(f"lexicon {name}: surface {s!r} has two meanings")
                self._by_surface[s] = sem
            self._by_sem.setdefault(freeze(sem), surfaces)
        alts = sorted(self._by_surface, key=lambda w: (-len(w), w))
        self.regex = "(?:" + "|".join(re.escape(a) for a in alts) + ")"
        self.tuple_sem = all(isinstance(sem, tuple) for _, sem in self.entries)

    def parse(self, s: str) -> Any:
        return self._by_surface.get(s, _NO)

    def sample(self, rng: random.Random) -> Any:
        return rng.choice(self.entries)[1]

    def render(self, sem: Any, rng: random.Random | None) -> str:
        surfaces = self._by_sem[freeze(sem)]
        return surfaces[0] if rng is None else rng.choice(surfaces)

    def accepts(self, sem: Any) -> bool:
        return freeze(sem) in self._by_sem

    def from_parts(self, parts: dict) -> Any:
        if not self.tuple_sem:
            return super().from_parts(parts)
        if None in parts:
            return _NO
        n = max(parts) + 1
        if set(parts) != set(range(n)):
            return _NO
        return tuple(parts[i] for i in range(n))

    def __len__(self) -> int:
        return len(self.entries)


class Open(SlotKind):
    """A word list plus an open class: any surface matching ``regex`` means ``to_sem(surface)``.

    The lexicon's own surfaces keep their meaning (``destination`` stays ``&h_dest``), and a
    ``reserved`` surface (a word the templates or other lexicons use: ``pass`` in ``Forward pass
    through {m}``) is never an open one, so no closed sentence gains a second reading; a draw
    comes from ``generate`` with probability ``share`` and is kept only if it reads back as the
    meaning it was drawn for, so parse, render and describe stay one function each way.
    """

    def __init__(self, base: Lex, regex: str, to_sem: Callable[[str], Any],
                 to_surface: Callable[[Any], str | None], generate: Callable, *,
                 share: float | Callable[[], float] = 0.5,
                 reserved: Callable[[str], bool] = lambda s: False) -> None:
        self.base, self.share, self._reserved = base, share, reserved
        self._to_sem, self._to_surface, self._generate = to_sem, to_surface, generate
        self._open = re.compile(f"(?:{regex})" + r"\Z")
        self.regex = f"(?:{base.regex}|{regex})"
        self.combo, self.name = base.combo, base.name

    def parse(self, s: str) -> Any:
        sem = self.base.parse(s)
        if sem is not _NO:
            return sem
        return self._to_sem(s) if self._open.match(s) and not self._reserved(s) else _NO

    def sample(self, rng: random.Random) -> Any:
        share = self.share() if callable(self.share) else self.share
        if share <= 0 or rng.random() >= share:  # share 0: the lexicon's draws, random stream kept
            return self.base.sample(rng)
        while True:
            surface = self._generate(rng)
            sem = self.parse(surface)
            if sem is not _NO and freeze(sem) == freeze(self._to_sem(surface)):
                return sem

    def render(self, sem: Any, rng: random.Random | None) -> str:
        if self.base.accepts(sem):
            return self.base.render(sem, rng)
        surface = self._to_surface(sem)
        if surface is None:
            raise ValueError(f"slot {self.name}: no surface for {sem!r}")
        return surface

    def accepts(self, sem: Any) -> bool:
        if self.base.accepts(sem):
            return True
        surface = self._to_surface(sem)
        return (surface is not None and self._open.match(surface) is not None
                and self.parse(surface) is not _NO and freeze(self.parse(surface)) == freeze(sem))


class Int(SlotKind):
    """An int in ``lo..hi``, written as digits or (0..999) as words; canonical: digits."""

    def __init__(self, lo: int, hi: int, *, words: bool = True, small_bias: bool = True) -> None:
        self.lo, self.hi, self.words, self.small_bias = lo, hi, words, small_bias
        alts = [numbers.DIGITS_REGEX] + ([numbers.WORDS_REGEX] if words else [])
        self.regex = "(?:" + "|".join(alts) + ")"

    def parse(self, s: str) -> Any:
        n = numbers.parse_int_surface(s, words=self.words)
        if n is None or not self.lo <= n <= self.hi:
            return _NO
        return n

    def sample(self, rng: random.Random) -> int:
        lo, hi = self.lo, self.hi
        if self.small_bias and hi - lo > 30:
            r = rng.random()
            if r < 0.55:
                hi = min(hi, max(lo, 0) + 20)
            elif r < 0.85:
                hi = min(hi, max(lo, 0) + 100)
        return rng.randint(lo, hi)

    def render(self, sem: int, rng: random.Random | None) -> str:
        if rng is not None and self.words and 0 <= sem <= numbers.MAX_WORDS and rng.random() < 0.5:
            return numbers.int_to_words(sem)
        return str(sem)

    def accepts(self, sem: Any) -> bool:
        return type(sem) is int and self.lo <= sem <= self.hi


class Const(SlotKind):
    """A slot whose meaning is computed from a surface by functions (floats, hex, lists ...)."""

    def __init__(self, regex: str, parse: Callable[[str], Any], sample: Callable,
                 render: Callable[[Any, random.Random | None], str],
                 accepts: Callable[[Any], bool], *, combo: bool = False) -> None:
        self.regex = regex
        self._parse, self._sample, self._render, self._accepts = parse, sample, render, accepts
        self.combo = combo

    def parse(self, s: str) -> Any:
        try:
            out = self._parse(s)
        except (ValueError, KeyError, IndexError, TypeError):
            return _NO
        return _NO if out is None else out

    def sample(self, rng: random.Random) -> Any:
        return self._sample(rng)

    def render(self, sem: Any, rng: random.Random | None) -> str:
        return self._render(sem, rng)

    def accepts(self, sem: Any) -> bool:
        try:
            return bool(self._accepts(sem))
        except (ValueError, TypeError, KeyError):
            return False


# ---------------------------------------------------------------------------- value templates
@dataclass(frozen=True)
class S:
    """A slot marker inside a value template; ``part`` indexes a tuple-valued meaning."""

    name: str
    part: int | None = None


def op(verb: Any, *args: Any) -> dict:
    """An Operation (1000) template: ``{1000: {"@0": verb, "@1": arg1, ...}}``."""
    body = {"@0": verb}
    for i, a in enumerate(args, 1):
        body[f"@{i}"] = a
    return {1000: body}


def contract(cid: int, **fields: Any) -> dict:
    """``contract(902, _0=..., _1=...)`` → ``{902: {"@0": ..., "@1": ...}}``."""
    return {cid: {"@" + k.lstrip("_"): v for k, v in fields.items()}}


def substitute(t: Any, sems: dict[str, Any]) -> Any:
    if isinstance(t, S):
        sem = sems[t.name]
        return sem if t.part is None else sem[t.part]
    if isinstance(t, dict):
        return {k: substitute(v, sems) for k, v in t.items()}
    if isinstance(t, list):
        return [substitute(v, sems) for v in t]
    return t


def _match(t: Any, v: Any, binds: dict) -> bool:
    if isinstance(t, S):
        parts = binds.setdefault(t.name, {})
        if t.part in parts:
            return freeze(parts[t.part]) == freeze(v)
        parts[t.part] = v
        return True
    if isinstance(t, dict):
        if not isinstance(v, dict) or len(t) != len(v):
            return False
        for k, tv in t.items():
            if k not in v or not _match(tv, v[k], binds):
                return False
        return True
    if isinstance(t, list):
        return (isinstance(v, list) and len(t) == len(v)
                and all(_match(a, b, binds) for a, b in zip(t, v)))
    return type(t) is type(v) and t == v


def signature(v: Any) -> tuple:
    """A coarse index key of a value (or template) so describe() tries few families."""
    if isinstance(v, S):
        return ("*",)
    if isinstance(v, dict) and len(v) == 1:
        (k, body), = v.items()
        if type(k) is int:
            if k == 1000 and isinstance(body, dict):
                verb = body.get("@0")
                return ("op", verb if isinstance(verb, str) else "*", len(body))
            return ("contract", k)
    if isinstance(v, dict):
        return ("object",)
    if isinstance(v, list):
        return ("array",)
    if isinstance(v, str):
        return ("handle",) if v.startswith("&h_") else ("text",)
    return (type(v).__name__,)


# -------------------------------------------------------------------------------- families
_SLOT_RE = re.compile(r"\{(\w+)\}")


def compile_phrasing(fid: str, text: str, slots: dict) -> re.Pattern:
    """The regex that reads an English phrasing back: ``{slot}`` markers become named groups
    matching their slot's regex; every slot must appear exactly once."""
    if sorted(_SLOT_RE.findall(text)) != sorted(slots):
        raise ValueError(f"{fid}: phrasing {text!r} must use each slot once")
    pattern, pos = [], 0
    for m in _SLOT_RE.finditer(text):
        pattern.append(re.escape(text[pos:m.start()]))
        pattern.append(f"(?P<{m.group(1)}>{slots[m.group(1)].regex})")
        pos = m.end()
    pattern.append(re.escape(text[pos:]))
    return re.compile("".join(pattern) + r"\Z")


@dataclass
class _Phrasing:
    text: str
    regex: re.Pattern
    first_word: str | None  # lower-cased literal first word; None if it starts with a slot


class Family:
    """Base class: one English ↔ value convention (see module docstring)."""

    fid: str
    category: str
    weight: float = 1.0
    pinned: bool = False  # small domain: always in train

    def sample(self, rng: random.Random) -> tuple[str, Any]:
        raise NotImplementedError

    def parse(self, english: str) -> list[Any]:
        raise NotImplementedError

    def describe(self, value: Any) -> str | None:
        raise NotImplementedError

    def first_words(self) -> set[str | None]:
        raise NotImplementedError


class GrammarFamily(Family):
    def __init__(self, fid: str, category: str, value: Any, phrasings: list[str],
                 slots: dict[str, SlotKind] | None = None, *, weight: float = 1.0,
                 pinned: bool = False, distinct: tuple[str, ...] = (),
                 check: Callable[[dict], bool] | None = None) -> None:
        self.fid, self.category, self.template = fid, category, value
        self.slots = dict(slots or {})
        self.weight, self.pinned, self.distinct, self.check = weight, pinned, distinct, check
        self.phrasings: list[_Phrasing] = []
        for text in phrasings:
            first = None if text.startswith("{") else text.split(" ", 1)[0].lower()
            self.phrasings.append(_Phrasing(text, compile_phrasing(fid, text, self.slots), first))
        self.sig = signature(value)

    # generation
    def sample_sems(self, rng: random.Random) -> dict[str, Any]:
        for _ in range(50):
            sems = {name: kind.sample(rng) for name, kind in self.slots.items()}
            if self.distinct and len({freeze(sems[n]) for n in self.distinct}) < len(self.distinct):
                continue
            if self.check is not None and not self.check(sems):
                continue
            return sems
        raise RuntimeError(f"{self.fid}: could not draw distinct slot values")

    def render(self, sems: dict[str, Any], phrasing: _Phrasing, rng: random.Random | None) -> str:
        out = _SLOT_RE.sub(lambda m: self.slots[m.group(1)].render(sems[m.group(1)], rng),
                           phrasing.text)
        return out[:1].upper() + out[1:]

    def sample(self, rng: random.Random) -> tuple[str, Any]:
        sems = self.sample_sems(rng)
        phrasing = rng.choice(self.phrasings)
        return self.render(sems, phrasing, rng), substitute(self.template, sems)

    # parsing
    def parse(self, english: str) -> list[Any]:
        out = []
        for ph in self.phrasings:
            cands = [english]
            if ph.first_word is None and english[:1].isupper():
                cands.append(english[:1].lower() + english[1:])
            for cand in cands:
                m = ph.regex.match(cand)
                if m is None:
                    continue
                sems = {}
                for name, kind in self.slots.items():
                    sem = kind.parse(m.group(name))
                    if sem is _NO:
                        break
                    sems[name] = sem
                else:
                    if self.distinct and len({freeze(sems[n]) for n in self.distinct}) < len(
                            self.distinct):
                        continue
                    if self.check is not None and not self.check(sems):
                        continue
                    out.append(substitute(self.template, sems))
        return out

    # value → English
    def unbuild(self, value: Any) -> dict[str, Any] | None:
        binds: dict = {}
        if not _match(self.template, value, binds):
            return None
        sems = {}
        for name, kind in self.slots.items():
            if name not in binds:
                return None
            sem = kind.from_parts(binds[name])
            if sem is _NO or not kind.accepts(sem):
                return None
            sems[name] = sem
        if self.distinct and len({freeze(sems[n]) for n in self.distinct}) < len(self.distinct):
            return None
        if self.check is not None and not self.check(sems):
            return None
        return sems

    def describe(self, value: Any) -> str | None:
        sems = self.unbuild(value)
        if sems is None:
            return None
        return self.render(sems, self.phrasings[0], None)

    def first_words(self) -> set[str | None]:
        return {p.first_word for p in self.phrasings}

    def domain_size(self) -> int:
        """Number of distinct values (only meaningful for Lex slots; big otherwise)."""
        n = 1
        for kind in self.slots.values():
            n *= len(kind) if isinstance(kind, Lex) else 10**6
        return n

    def enumerate_values(self) -> list[Any]:
        """Every value of a family whose slots are all word lists."""
        import itertools

        names = list(self.slots)
        pools = [[sem for _, sem in self.slots[n].entries] for n in names]  # type: ignore
        out = []
        for combo in itertools.product(*pools):
            sems = dict(zip(names, combo))
            if self.distinct and len({freeze(sems[n]) for n in self.distinct}) < len(self.distinct):
                continue
            if self.check is not None and not self.check(sems):
                continue
            out.append(substitute(self.template, sems))
        return out
