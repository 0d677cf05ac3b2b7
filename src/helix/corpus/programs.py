"""HLXL-LS / HLX-LS programs with English descriptions (collapse, resolve, snapshot, rollback,
transactions).

A :class:`ProgramFamily` is a program template in HLXL-LS with slots and English phrasings.
Slot values are written into the program by the language core (``encode(v, "hlxl")``) and the
whole program is re-printed by the core's canonical printer, so the corpus only ever holds
printer output. The inverse (program → English) matches a canonical program against the
family's canonical shape and reads each slot back with the core's HLXL reader.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import Any

from helix.corpus import lexicon as L
from helix.corpus import slots as SL
from helix.corpus.grammar import Lex, SlotKind, _NO, compile_phrasing, freeze
from helix.hlx import HLXError, convert, decode, encode
from helix.hlx import hlxl as _hlxl

_SLOT_RE = re.compile(r"\{(\w+)\}")
# What a program slot holds, as HLXL: a scalar, a handle, a quoted text or a flat list.
_HLXL_ATOM = (r'(?:true|false|null|-?[0-9]+(?:\.[0-9]+)?|"(?:[^"\\]|\\.)*"|&h_[A-Za-z0-9_]+'
              r'|\[[^\[\]]*\])')


def canonical_hlxl_ls(source: str) -> str:
    """The core's canonical HLXL-LS text of a program."""
    return _hlxl.dumps_program(_hlxl.loads_program(source))


def to_hlx_ls(hlxl_ls: str) -> str:
    return convert(hlxl_ls, "hlxl_ls", "hlx_ls")


def to_hlxl_ls(hlx_ls: str) -> str:
    return convert(hlx_ls, "hlx_ls", "hlxl_ls")


class ProgramFamily:
    category = "program"

    def __init__(self, fid: str, phrasings: list[str], program: str,
                 slots: dict[str, SlotKind] | None = None, *, weight: float = 1.0,
                 pinned: bool = False, distinct: tuple[str, ...] = ()) -> None:
        self.fid, self.program, self.weight, self.pinned = fid, program, weight, pinned
        self.slots = dict(slots or {})
        self.distinct = distinct
        self.phrasings = []
        for text in phrasings:
            self.phrasings.append((text, compile_phrasing(fid, text, self.slots)))
        self._shape = None

    # ------------------------------------------------------------------ program text
    def build(self, sems: dict[str, Any]) -> str:
        src = _SLOT_RE.sub(lambda m: encode(sems[m.group(1)], "hlxl"), self.program)
        return canonical_hlxl_ls(src)

    def shape(self) -> re.Pattern:
        """Regex over canonical HLXL-LS text with one group per slot."""
        if self._shape is None:
            sentinels: dict[str, Any] = {n: 987654301 + i for i, n in enumerate(self.slots)}
            for i, name in enumerate(self.slots):
                try:
                    self.build(sentinels)
                    break
                except HLXError:  # some slot must be a text (e.g. a collapse tag)
                    sentinels[name] = f"zqsentinel{i}"
            text = self.build(sentinels)
            pattern = re.escape(text)
            for name, n in sentinels.items():
                pattern = pattern.replace(re.escape(encode(n, "hlxl")), f"(?P<{name}>{_HLXL_ATOM})", 1)
            self._shape = re.compile(pattern + r"\Z", re.S)
        return self._shape

    # ------------------------------------------------------------------ english
    def _ok(self, sems: dict) -> bool:
        return not self.distinct or len({freeze(sems[n]) for n in self.distinct}) == len(
            self.distinct)

    def sample(self, rng: random.Random) -> tuple[str, str]:
        for _ in range(50):
            sems = {n: k.sample(rng) for n, k in self.slots.items()}
            if self._ok(sems):
                break
        text, _ = rng.choice(self.phrasings)
        english = _SLOT_RE.sub(lambda m: self.slots[m.group(1)].render(sems[m.group(1)], rng), text)
        return english, self.build(sems)

    def parse(self, english: str) -> list[str]:
        out = []
        for _, rx in self.phrasings:
            m = rx.match(english)
            if m is None:
                continue
            sems = {}
            for name, kind in self.slots.items():
                sem = kind.parse(m.group(name))
                if sem is _NO:
                    break
                sems[name] = sem
            else:
                if self._ok(sems):
                    out.append(self.build(sems))
        return out

    def unbuild(self, program: str) -> dict[str, Any] | None:
        m = self.shape().match(program)
        if m is None:
            return None
        sems = {}
        for name, kind in self.slots.items():
            try:
                sem = decode(m.group(name), "hlxl")
            except Exception:  # noqa: BLE001 - not this family's shape
                return None
            if not kind.accepts(sem):
                return None
            sems[name] = sem
        if not self._ok(sems) or self.build(sems) != program:
            return None
        return sems

    def describe(self, program: str) -> str | None:
        sems = self.unbuild(program)
        if sems is None:
            return None
        text = self.phrasings[0][0]
        return _SLOT_RE.sub(lambda m: self.slots[m.group(1)].render(sems[m.group(1)], None), text)

    def enumerate_programs(self) -> list[str]:
        import itertools

        names = list(self.slots)
        pools = [[sem for _, sem in self.slots[n].entries] for n in names]  # type: ignore
        return [self.build(dict(zip(names, c))) for c in itertools.product(*pools)]


V = SL.program_value_slot()
W = SL.program_value_slot()
TAG = Lex(L.texts("config", "draft", "cache", "run", "input", "result", "backup", "session"),
          name="tags")
DNOUN = Lex(L.DATA, name="data")

PROGRAM_FAMILIES: list[ProgramFamily] = [
    ProgramFamily("collapse_resolve",
                  ["Collapse {v} then resolve it", "Collapse {v} and resolve the handle",
                   "Round-trip {v} through the store"],
                  "let x = ls.collapse({v});\nreturn ls.resolve(x);", {"v": V}, weight=2),
    ProgramFamily("collapse",
                  ["Collapse {v}", "Collapse {v} and return the handle", "Get a handle for {v}"],
                  "return ls.collapse({v});", {"v": V}, weight=2),
    ProgramFamily("collapse_tag",
                  ["Collapse {v} with tag {t}", "Collapse {v} tagged {t}",
                   "Get a handle for {v} tagged {t}"],
                  "return ls.collapse({v}, {t});", {"v": V, "t": TAG}),
    ProgramFamily("resolve", ["Resolve {d}", "Resolve handle {d}", "Look up handle {d}"],
                  "return ls.resolve({d});", {"d": DNOUN}),
    ProgramFamily("snapshot_rollback",
                  ["Snapshot, collapse {v}, then roll back",
                   "Collapse {v} inside a snapshot and roll back",
                   "Take a snapshot, collapse {v} and roll back"],
                  "let s = ls.snapshot();\nlet x = ls.collapse({v});\nls.rollback(s);\nreturn x;",
                  {"v": V}, weight=2),
    ProgramFamily("txn1",
                  ["Collapse {v} in a transaction", "In a transaction, collapse {v}",
                   "Atomically collapse {v}"],
                  "let r = ls.transaction { return ls.collapse({v}); };\nreturn r;", {"v": V}),
    ProgramFamily("txn2",
                  ["Collapse {v} and {w} in a transaction",
                   "In a transaction, collapse {v} and {w}", "Atomically collapse {v} and {w}"],
                  "let r = ls.transaction { let a = ls.collapse({v}); let b = ls.collapse({w}); "
                  "return [a, b]; };\nreturn r;", {"v": V, "w": W}, weight=2, distinct=("v", "w")),
    ProgramFamily("collapse_two",
                  ["Collapse {v} and {w}", "Collapse both {v} and {w}", "Get handles for {v} and {w}"],
                  "let a = ls.collapse({v});\nlet b = ls.collapse({w});\nreturn [a, b];",
                  {"v": V, "w": W}, distinct=("v", "w")),
    ProgramFamily("snapshot", ["Take a snapshot", "Snapshot the store", "Make a store checkpoint"],
                  "return ls.snapshot();", pinned=True),
    ProgramFamily("snapshot_only_rollback",
                  ["Snapshot then roll back", "Take a snapshot and roll back to it",
                   "Roll back to a fresh snapshot"],
                  "let s = ls.snapshot();\nls.rollback(s);", pinned=True),
]
PROGRAMS_BY_ID = {f.fid: f for f in PROGRAM_FAMILIES}


def parse_program_english_all(english: str) -> list[tuple[str, str]]:
    """Every distinct reading ``(family id, canonical HLXL-LS)`` of a program request."""
    out: dict[str, tuple[str, str]] = {}
    for f in PROGRAM_FAMILIES:
        for prog in f.parse(english):
            out.setdefault(prog, (f.fid, prog))
    return list(out.values())


def parse_program_english(english: str) -> str | None:
    """The canonical HLXL-LS program a request means, or None (no or several readings)."""
    r = parse_program_english_all(english)
    return r[0][1] if len(r) == 1 else None


def describe_program(program: str, fmt: str = "hlxl_ls") -> str | None:
    """Canonical English for a program given in ``hlxl_ls`` or ``hlx_ls`` form."""
    text = program if fmt == "hlxl_ls" else to_hlxl_ls(program)
    return _describe_hlxl_ls(text)


@lru_cache(maxsize=4096)
def _describe_hlxl_ls(text: str) -> str | None:
    for f in PROGRAM_FAMILIES:
        d = f.describe(text)
        if d is not None:
            return d
    return None


def program_ints(program: str) -> list[int]:
    """Integer literals in a program's values (for the number hold-out)."""
    out: list[int] = []
    for f in PROGRAM_FAMILIES:
        sems = f.unbuild(program)
        if sems is not None:
            for v in sems.values():
                _collect_ints(v, out)
            return out
    return out


def _collect_ints(v: Any, out: list) -> None:
    if type(v) is int:
        out.append(v)
    elif isinstance(v, list):
        for x in v:
            _collect_ints(x, out)
    elif isinstance(v, dict):
        for x in v.values():
            _collect_ints(x, out)
