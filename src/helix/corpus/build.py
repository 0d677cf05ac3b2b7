"""``build_corpus(out, seed, size)``: the three corpora, their reference cards and the manifest.

Deterministic for a given (seed, size): every random choice comes from ``random.Random`` seeded by
(seed, corpus, target format), nothing iterates a set or depends on the hash seed, and the
manifest holds no time stamps, so two builds are byte-identical. The whole corpus is built in a
temporary folder beside ``out`` and renamed into place, so a killed build never leaves half a
corpus behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import statistics
from pathlib import Path
from typing import Any, Callable

from helix.corpus import mixes as M
from helix.corpus import openwords as OW
from helix.corpus import splits as SP
from helix.corpus.english import describe, parse_english_all
from helix.corpus.families import FAMILIES
from helix.corpus.grammar import freeze
from helix.corpus.programs import (PROGRAM_FAMILIES, describe_program, parse_program_english_all,
                                   program_ints, to_hlx_ls)
from helix.hlx import encode
from helix.util import atomic_write_json, atomic_write_text

GENERATOR_VERSION = "2.0.0"  # 2: open vocabulary and the novel split
DEFAULT_SEED = 1234
DEFAULT_SIZE = 22000  # train records per corpus
LCR_GLYPHS = "∅⊤⊥⊠⟁🜊🜁🜂🜃🜄◇◆"
CHARSET = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"\n"} | set(LCR_GLYPHS)
RECORD_KEYS = ("id", "split", "category", "src_fmt", "src", "tgt_fmt", "tgt", "value")


class CorpusError(RuntimeError):
    """The corpus cannot be built as asked (bad size, output folder in the way, ...)."""


def fits_budget(src: str, tgt: str) -> bool:
    return len(src) + len(tgt) + M.SPECIALS <= M.BUDGET


def in_charset(text: str) -> bool:
    return all(c in CHARSET for c in text)


def _record(split: str, category: str, src_fmt: str, src: str, tgt_fmt: str, tgt: str,
            value: str | None) -> dict:
    return {"id": "", "split": split, "category": category, "src_fmt": src_fmt, "src": src,
            "tgt_fmt": tgt_fmt, "tgt": tgt, "value": value}


class _Item:
    """One value (or program) with its split, rendered forms cached."""

    __slots__ = ("value", "program", "split", "category", "forms")

    def __init__(self, value: Any, program: str | None, split: str, category: str) -> None:
        self.value, self.program, self.split, self.category = value, program, split, category
        self.forms: dict[str, str] = {}

    def form(self, fmt: str) -> str:
        out = self.forms.get(fmt)
        if out is None:
            if self.program is not None:
                out = self.program if fmt == "hlxl_ls" else to_hlx_ls(self.program)
            else:
                out = encode(self.value, fmt)
            self.forms[fmt] = out
        return out

    @property
    def value_text(self) -> str | None:
        return None if self.program is not None else self.form("hlx")


class Generator:
    """Draws tasks for one seed; caches parses and splits across corpora."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.by_category: dict[str, list] = {}
        for f in FAMILIES:
            self.by_category.setdefault(f.category, []).append(f)
        self.cat_names = list(M.CATEGORY_WEIGHTS)
        self.cat_weights = [M.CATEGORY_WEIGHTS[c] for c in self.cat_names]
        self.fam_weights = {c: [f.weight for f in fs] for c, fs in self.by_category.items()}
        self.prog_weights = [f.weight for f in PROGRAM_FAMILIES]
        self._readings: dict[str, bool] = {}
        self._describe: dict[Any, str | None] = {}
        self.ambiguous = 0

    # ---------------------------------------------------------------- items
    def value_item(self, rng: random.Random) -> tuple[str, str, _Item]:
        cat = rng.choices(self.cat_names, self.cat_weights)[0]
        fams = self.by_category[cat]
        f = rng.choices(fams, self.fam_weights[cat])[0]
        english, value = f.sample(rng)
        item = _Item(value, None, "", cat)
        item.split = SP.split_for_value(value, item.form("hlx"), self.seed)
        return english, cat, item

    def program_item(self, rng: random.Random) -> tuple[str, _Item]:
        f = rng.choices(PROGRAM_FAMILIES, self.prog_weights)[0]
        english, program = f.sample(rng)
        split = SP.split_for_program(program, program_ints(program), self.seed)
        return english, _Item(None, program, split, "program")

    def value_item_for(self, value: Any, category: str) -> _Item:
        item = _Item(value, None, "", category)
        item.split = SP.split_for_value(value, item.form("hlx"), self.seed)
        return item

    def program_item_for(self, program: str) -> _Item:
        return _Item(None, program, SP.split_for_program(program, program_ints(program),
                                                          self.seed), "program")

    # ---------------------------------------------------------------- checks
    def unique_reading(self, english: str, item: _Item) -> bool:
        """The sentence reads exactly one way, and that way is the item."""
        ok = self._readings.get(english)
        if ok is None:
            if item.program is not None:
                r = parse_program_english_all(english)
                ok = len(r) == 1 and r[0][1] == item.program and not parse_english_all(english)
            else:
                r = parse_english_all(english)
                ok = (len(r) == 1 and freeze(r[0][1]) == freeze(item.value)
                      and not parse_program_english_all(english))
            self._readings[english] = ok
            if not ok:
                self.ambiguous += 1
        return ok

    def english_of(self, item: _Item) -> str | None:
        key = item.program if item.program is not None else item.form("hlx")
        if key not in self._describe:
            if item.program is not None:
                d = describe_program(item.program)
            else:
                d = describe(item.value)
            if d is not None and not self.unique_reading(d, item):
                d = None
            self._describe[key] = d
        return self._describe[key]

    # ---------------------------------------------------------------- tasks
    def task(self, rng: random.Random, src_fmt: str, tgt_fmt: str, want: Callable[[str], bool]
             ) -> dict | None:
        programmy = tgt_fmt in M.PROGRAM_FORMS or src_fmt in M.PROGRAM_FORMS
        if src_fmt == "english":  # forward
            if programmy:
                english, item = self.program_item(rng)
                category = "program"
            else:
                english, category, item = self.value_item(rng)
            if not want(item.split):
                return None
            if not self.unique_reading(english, item):
                return None
            tgt = item.form(tgt_fmt)
            src = english
        else:
            if programmy:
                _, item = self.program_item(rng)
            else:
                _, _, item = self.value_item(rng)
            if not want(item.split):
                return None
            src = item.form(src_fmt)
            if tgt_fmt == "english":
                category = "reverse"
                tgt = self.english_of(item)
                if tgt is None:
                    return None
            else:
                category = "cross_form"
                tgt = item.form(tgt_fmt)
        if not fits_budget(src, tgt) or not in_charset(src) or not in_charset(tgt):
            return None
        return _record(item.split, category, src_fmt, src, tgt_fmt, tgt, item.value_text)

    def gate_records(self, corpus: str) -> list[dict]:
        """The quality-gate requests, for every target format the corpus has."""
        out = []
        fmts = [f for f in M.MIXES[corpus] if f in M.VALUE_FORMS]
        for english, value in SP.GATE_REQUESTS:
            item = self.value_item_for(value, "")
            cat = parse_english_all(english)
            if len(cat) != 1 or freeze(cat[0][1]) != freeze(value):
                raise CorpusError(f"gate request {english!r} does not read as its value")
            category = _category_of_family(cat[0][0])
            for fmt in fmts:
                out.append(_record(item.split, category, "english", english, fmt,
                                   item.form(fmt), item.value_text))
            if "english" in M.MIXES[corpus]:
                for src_fmt in M.SOURCES[corpus]["english"]:
                    if src_fmt in M.VALUE_FORMS:
                        tgt = self.english_of(item)
                        if tgt is not None:
                            out.append(_record(item.split, "reverse", src_fmt,
                                               item.form(src_fmt), "english", tgt,
                                               item.value_text))
        if "hlx_ls" in M.MIXES[corpus]:
            for program in SP.GATE_PROGRAMS:
                item = self.program_item_for(program)
                out.append(_record(item.split, "cross_form", "hlxl_ls", item.form("hlxl_ls"),
                                   "hlx_ls", item.form("hlx_ls"), None))
                out.append(_record(item.split, "cross_form", "hlx_ls", item.form("hlx_ls"),
                                   "hlxl_ls", item.form("hlxl_ls"), None))
        return [r for r in out if fits_budget(r["src"], r["tgt"])]


def _category_of_family(fid: str) -> str:
    for f in FAMILIES:
        if f.fid == fid:
            return f.category
    return "program"


def generate_corpus(gen: Generator, corpus: str, size: int, novel: bool = True) -> list[dict]:
    """All records of one corpus, shuffled, with ids (``novel``: fill the novel split)."""
    mix = M.MIXES[corpus]
    quotas = {s: M.apportion(round(size * frac), mix) for s, frac in M.SPLIT_FRACTIONS.items()}
    for f in quotas["novel"]:  # programs use the closed lexicon only: no novel words to hold out
        if f in M.PROGRAM_FORMS or not novel:
            quotas["novel"][f] = 0
    records: list[dict] = []
    seen: set[tuple[str, str, str, str]] = set()
    filled = {s: {f: 0 for f in mix} for s in quotas}

    def add(r: dict) -> bool:
        key = (r["src_fmt"], r["src"], r["tgt_fmt"], r["tgt"])
        if key in seen or filled[r["split"]][r["tgt_fmt"]] >= quotas[r["split"]][r["tgt_fmt"]]:
            return False
        seen.add(key)
        filled[r["split"]][r["tgt_fmt"]] += 1
        records.append(r)
        return True

    for r in gen.gate_records(corpus):
        add(r)
    for tgt_fmt in mix:
        rng = random.Random(f"{gen.seed}/{corpus}/{tgt_fmt}")
        sources = M.SOURCES[corpus][tgt_fmt]
        src_names, src_weights = list(sources), list(sources.values())
        need = {s: quotas[s][tgt_fmt] - filled[s][tgt_fmt] for s in quotas}
        total = sum(need.values())
        limit = 60 * total + 5000
        tries = 0
        while any(filled[s][tgt_fmt] < quotas[s][tgt_fmt] for s in quotas):
            tries += 1
            if tries > limit:
                short = {s: quotas[s][tgt_fmt] - filled[s][tgt_fmt] for s in quotas}
                raise CorpusError(f"{corpus}/{tgt_fmt}: could not fill the quotas ({short} short)")
            src_fmt = rng.choices(src_names, src_weights)[0]
            r = gen.task(rng, src_fmt, tgt_fmt,
                         lambda s: filled[s][tgt_fmt] < quotas[s][tgt_fmt])
            if r is not None:
                add(r)
    rng = random.Random(f"{gen.seed}/{corpus}/shuffle")
    rng.shuffle(records)
    for i, r in enumerate(records):
        r["id"] = f"{corpus}-{i:06d}"
    return records


def dumps_jsonl(records: list[dict]) -> str:
    return "".join(json.dumps({k: r[k] for k in RECORD_KEYS}, ensure_ascii=False) + "\n"
                   for r in records)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verification_hash(file_hashes: dict[str, str]) -> str:
    """One hash over every file's name and SHA-256 (sorted by name)."""
    lines = "".join(f"{name}  {h}\n" for name, h in sorted(file_hashes.items()))
    return sha256_hex(lines.encode("utf-8"))


def counts_of(records: list[dict]) -> dict:
    out: dict = {}
    for r in records:
        d = out.setdefault(r["split"], {}).setdefault(r["tgt_fmt"], {})
        d[r["category"]] = d.get(r["category"], 0) + 1
    return _sorted(out)


def _sorted(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _sorted(d[k]) for k in sorted(d)}
    return d


def length_stats(records: list[dict]) -> dict:
    lens = sorted(len(r["src"]) + len(r["tgt"]) + M.SPECIALS for r in records)
    tl = sorted(len(r["tgt"]) for r in records)
    if not lens:
        return {}

    def pct(xs, p):
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    hist: dict[str, int] = {}
    for n in lens:
        lo = (n // 32) * 32
        k = f"{lo}-{lo + 31}"
        hist[k] = hist.get(k, 0) + 1
    return {
        "budget": M.BUDGET,
        "example": {"min": lens[0], "max": lens[-1], "mean": round(statistics.fmean(lens), 2),
                    "p50": pct(lens, 0.5), "p90": pct(lens, 0.9), "p99": pct(lens, 0.99)},
        "target": {"min": tl[0], "max": tl[-1], "mean": round(statistics.fmean(tl), 2),
                   "p50": pct(tl, 0.5), "p90": pct(tl, 0.9), "p99": pct(tl, 0.99)},
        "histogram": {k: hist[k] for k in sorted(hist, key=lambda s: int(s.split("-")[0]))},
    }


def shares_of(records: list[dict]) -> dict[str, float]:
    n = len(records) or 1
    out: dict[str, int] = {}
    for r in records:
        out[r["tgt_fmt"]] = out.get(r["tgt_fmt"], 0) + 1
    return {k: round(out[k] / n, 4) for k in sorted(out)}


def build_corpus(out: str | os.PathLike, seed: int = DEFAULT_SEED, size: int = DEFAULT_SIZE,
                 *, open_share: float = OW.OPEN_SHARE,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Build every corpus file into ``out`` (atomically replaced) and return the manifest.

    ``open_share``: the share of name, path and text draws from the open generators
    (``helix.corpus.openwords``); 0 builds the closed-lexicon corpus (no ``novel`` split)."""
    from helix.corpus.markdown import render_markdown

    if not isinstance(size, int) or size < 20:
        raise CorpusError(f"size must be an int >= 20 (train records per corpus), got {size!r}")
    if isinstance(open_share, bool) or not isinstance(open_share, (int, float)) or not 0 <= open_share <= 1:
        raise CorpusError(f"open share must be a number from 0 to 1, got {open_share!r}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / "manifest.json").exists())):
        raise CorpusError(f"{out} exists and is not a corpus folder; refusing to replace it")
    gen = Generator(seed)
    corpora: dict[str, list[dict]] = {}
    with OW.sharing(float(open_share)):
        for corpus in M.CORPORA:
            if progress:
                progress(f"generating {corpus}")
            corpora[corpus] = generate_corpus(gen, corpus, size, novel=open_share > 0)

    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        hashes: dict[str, str] = {}
        files: dict[str, dict] = {}
        for corpus, records in corpora.items():
            for name, text, n in ((M.FILES[corpus], dumps_jsonl(records), len(records)),
                                  (f"{corpus}.md", render_markdown(corpus, records), None)):
                data = text.encode("utf-8")
                atomic_write_text(tmp / name, text)
                hashes[name] = sha256_hex(data)
                files[name] = {"sha256": hashes[name], "bytes": len(data)}
                if n is not None:
                    files[name]["records"] = n
        manifest = {
            "generator": "helix.corpus",
            "generator_version": GENERATOR_VERSION,
            "seed": seed,
            "size": size,
            "budget": {"max_tokens": M.BUDGET, "specials": M.SPECIALS,
                       "rule": "len(src) + len(tgt) + 6 <= 256"},
            "files": {k: files[k] for k in sorted(files)},
            "verification_hash": verification_hash(hashes),
            "counts": {c: counts_of(corpora[c]) for c in M.CORPORA},
            "shares": {c: shares_of(corpora[c]) for c in M.CORPORA},
            "lengths": {c: length_stats(corpora[c]) for c in M.CORPORA},
            "heldout": {"combo_percent": SP.COMBO_HOLDOUT_PERCENT,
                        "number_percent": SP.NUMBER_HOLDOUT_PERCENT,
                        "val_per_mille": SP.VAL_PER_MILLE,
                        "random_test_per_mille": SP.TEST_PER_MILLE,
                        "novel_word_percent": SP.NOVEL_WORD_PERCENT},
            "open_words": {"package": OW.WORDLIST_PACKAGE, "pool": len(OW.word_pool()),
                           "pool_sha256": OW.pool_fingerprint(), "open_share": float(open_share)},
            "skipped_ambiguous_sentences": gen.ambiguous,
        }
        atomic_write_json(tmp / "manifest.json", manifest)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _stale(p: Path) -> bool:
    """A temp folder ``….<kind>-PID`` whose process is gone (never this process's own)."""
    pid = p.name.rsplit("-", 1)[-1]
    return pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))


def _remove_stale_temps(out: Path) -> None:
    """Tidy after killed builds of ``out``: remove their ``.NAME.building-PID`` and
    ``.NAME.old-PID`` folders (only those whose process is gone). A build killed between its two
    renames leaves no ``out`` but the previous corpus in ``.NAME.old-PID``: that one is put back
    first, so ``out`` is never missing longer than a crash."""
    parent = out.parent
    olds = sorted((p for p in parent.glob(f".{out.name}.old-*") if p.is_dir() and _stale(p)),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    if olds and not os.path.lexists(out) and (olds[0] / "manifest.json").is_file():
        os.replace(olds[0], out)
        olds = olds[1:]
    for p in olds:
        shutil.rmtree(p, ignore_errors=True)
    for p in parent.glob(f".{out.name}.building-*"):
        if _stale(p):
            shutil.rmtree(p, ignore_errors=True)


def _swap_into_place(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
