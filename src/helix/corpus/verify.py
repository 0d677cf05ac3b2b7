"""``verify_corpus(dir)``: re-check a built corpus with the language core.

Every record: its target (and source) re-parse in their formats, every form equals ``value``
and is the core's canonical printing, English requests read as exactly that value, English
targets are the canonical description, programs convert into each other, the budget and the
brains' character set hold, and the split is the one the value's hold-out rules give. Then the
counts, the SHA-256 of every file, the verification hash, the reference cards, and the absence
of train/val/test leakage. Returns a list of problems (empty: the corpus verifies).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helix.corpus import mixes as M
from helix.corpus import splits as SP
from helix.corpus.build import (RECORD_KEYS, counts_of, fits_budget, in_charset, sha256_hex,
                                verification_hash)
from helix.corpus.english import describe, parse_english_all
from helix.corpus.families import BY_ID
from helix.corpus.grammar import freeze
from helix.corpus.splits import SPLITS
from helix.corpus.programs import (canonical_hlxl_ls, describe_program, parse_program_english_all,
                                   program_ints, to_hlx_ls, to_hlxl_ls)
from helix.hlx import HLXError, decode, encode, values_equal



def _err(e: Exception) -> str:
    return str(e) if isinstance(e, HLXError) else f"{type(e).__name__}: {e}"


def _program_of(fmt: str, text: str) -> tuple[str | None, str | None]:
    """(canonical HLXL-LS, problem) for a program side of a record."""
    try:
        if fmt == "hlxl_ls":
            canon = canonical_hlxl_ls(text)
            if canon != text:
                return canon, "hlxl_ls text is not the canonical printing"
            return canon, None
        canon = to_hlxl_ls(text)
        if to_hlx_ls(canon) != text:
            return canon, "hlx_ls text is not the canonical printing"
        return canon, None
    except Exception as e:  # noqa: BLE001 - reported as a problem
        return None, f"{fmt} does not parse: {_err(e)}"


def train_novel_words(r: dict, seed: int) -> list[str]:
    """Words held out for ``novel`` that a record's value names (every side of a record prints its
    value; the rest of an English side is template and number words, never held out)."""
    words: list[str] = []
    if isinstance(r.get("value"), str):
        try:
            words += SP.novel_words(decode(r["value"], "hlx"), seed)
        except HLXError:
            pass  # reported by check_record
    return words


def check_record(r: dict, seed: int) -> tuple[list[str], Any]:
    """Problems of one record, and its identity (value key / program) for the leakage checks."""
    probs: list[str] = []
    if set(r) != set(RECORD_KEYS):
        return [f"fields {sorted(r)} != {sorted(RECORD_KEYS)}"], None
    for k in RECORD_KEYS:
        if k != "value" and not isinstance(r[k], str):
            return [f"{k} is not a string"], None
    src_fmt, tgt_fmt, src, tgt = r["src_fmt"], r["tgt_fmt"], r["src"], r["tgt"]
    if r["split"] not in SPLITS:
        probs.append(f"unknown split {r['split']!r}")
    if src_fmt not in M.ALL_FORMATS or tgt_fmt not in M.ALL_FORMATS or src_fmt == tgt_fmt:
        return probs + [f"bad formats {src_fmt!r} -> {tgt_fmt!r}"], None
    if r["category"] not in M.ALL_CATEGORIES:
        probs.append(f"unknown category {r['category']!r}")
    if not fits_budget(src, tgt):
        probs.append(f"over the budget: {len(src)} + {len(tgt)} + {M.SPECIALS} > {M.BUDGET}")
    if not in_charset(src) or not in_charset(tgt):
        probs.append("src/tgt holds a character outside the brains' vocabulary")
    if src_fmt == "english":
        want_cat = None  # checked against the family below
    elif tgt_fmt == "english":
        want_cat = "reverse"
    else:
        want_cat = "cross_form"
    if want_cat is not None and r["category"] != want_cat:
        probs.append(f"category {r['category']!r} should be {want_cat!r}")

    if src_fmt in M.PROGRAM_FORMS or tgt_fmt in M.PROGRAM_FORMS:
        if r["value"] is not None:
            probs.append("value must be null for a program")
        progs = []
        for fmt, text in ((src_fmt, src), (tgt_fmt, tgt)):
            if fmt in M.PROGRAM_FORMS:
                canon, p = _program_of(fmt, text)
                if p:
                    probs.append(f"{'src' if text is src else 'tgt'}: {p}")
                if canon is not None:
                    progs.append(canon)
            elif fmt != "english":
                probs.append(f"{fmt} paired with a program form")
        if not progs:
            return probs, None
        prog = progs[0]
        if any(p != prog for p in progs):
            probs.append("src and tgt are different programs")
        if src_fmt == "english":
            readings = parse_program_english_all(src)
            if len(readings) != 1:
                probs.append(f"request has {len(readings)} program readings")
            elif readings[0][1] != prog:
                probs.append("request does not read as this program")
            if parse_english_all(src):
                probs.append("request also reads as a value")
            if r["category"] != "program":
                probs.append(f"category {r['category']!r} should be 'program'")
        if tgt_fmt == "english" and describe_program(prog) != tgt:
            probs.append(f"English target is not the canonical description "
                         f"({describe_program(prog)!r})")
        want = SP.split_for_program(prog, program_ints(prog), seed)
        if r["split"] != want:
            probs.append(f"split {r['split']!r} should be {want!r}")
        return probs, ("P", prog)

    if not isinstance(r["value"], str):
        return probs + ["value is not the HLX text of a value"], None
    try:
        v = decode(r["value"], "hlx")
    except Exception as e:  # noqa: BLE001
        return probs + [f"value does not parse as HLX: {_err(e)}"], None
    if encode(v, "hlx") != r["value"]:
        probs.append("value is not the canonical HLX printing")
    for side, fmt, text in (("src", src_fmt, src), ("tgt", tgt_fmt, tgt)):
        if fmt == "english":
            continue
        try:
            got = decode(text, fmt)
        except Exception as e:  # noqa: BLE001
            probs.append(f"{side} does not re-parse as {fmt}: {_err(e)}")
            continue
        if not values_equal(got, v):
            probs.append(f"{side} ({fmt}) is a different value than `value`")
        elif encode(v, fmt) != text:
            probs.append(f"{side} is not the canonical {fmt} printing")
    if src_fmt == "english":
        readings = parse_english_all(src)
        if len(readings) != 1:
            probs.append(f"request has {len(readings)} readings")
        else:
            fid, got = readings[0]
            if freeze(got) != freeze(v):
                probs.append("request does not read as `value`")
            if r["category"] != BY_ID[fid].category:
                probs.append(f"category {r['category']!r} should be {BY_ID[fid].category!r}")
        if parse_program_english_all(src):
            probs.append("request also reads as a program")
    if tgt_fmt == "english":
        want_text = describe(v)
        if want_text != tgt:
            probs.append(f"English target is not the canonical description ({want_text!r})")
    want = SP.split_for_value(v, r["value"], seed)
    if r["split"] != want:
        probs.append(f"split {r['split']!r} should be {want!r}")
    elif r["split"] == "train" and SP.heldout_parts(v, seed) and freeze(v) not in \
            SP.pinned_values()[0]:
        probs.append("train holds a held-out combination")
    return probs, ("V", r["value"])


def read_jsonl(path: Path) -> tuple[list[dict], list[str]]:
    records, probs = [], []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                probs.append(f"{path.name}:{i}: not JSON ({e.msg})")
                continue
            if not isinstance(r, dict):
                probs.append(f"{path.name}:{i}: not a JSON object")
                continue
            r["_line"] = i
            records.append(r)
    return records, probs


def verify_corpus(directory: str | Path, *, max_record_problems: int = 200) -> list[str]:
    """Every problem found in a corpus folder (empty list: it verifies)."""
    from helix.corpus.markdown import render_markdown

    d = Path(directory)
    problems: list[str] = []
    mpath = d / "manifest.json"
    if not mpath.is_file():
        return [f"{mpath}: missing"]
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        seed = manifest["seed"]
        listed = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        return [f"manifest.json: unreadable ({e})"]
    if not isinstance(listed, dict) or not all(isinstance(i, dict) for i in listed.values()):
        return ["manifest.json: 'files' is not a mapping of file name to {sha256, bytes}"]

    from helix.corpus.build import GENERATOR_VERSION

    if manifest.get("generator_version") != GENERATOR_VERSION:
        problems.append(f"manifest.json: built by generator {manifest.get('generator_version')}, "
                        f"this verifier is {GENERATOR_VERSION} (rebuild the corpus)")
    # files and hashes
    actual: dict[str, str] = {}
    expected = [M.FILES[c] for c in M.CORPORA] + [f"{c}.md" for c in M.CORPORA]
    for name in expected:
        if name not in listed:
            problems.append(f"manifest.json: {name} is not listed")
    for name, info in listed.items():
        p = d / name
        if not p.is_file():
            problems.append(f"{name}: missing")
            continue
        data = p.read_bytes()
        actual[name] = sha256_hex(data)
        if actual[name] != info.get("sha256"):
            problems.append(f"{name}: SHA-256 {actual[name]} does not match the manifest "
                            f"({info.get('sha256')})")
        if info.get("bytes") is not None and info["bytes"] != len(data):
            problems.append(f"{name}: {len(data)} bytes, manifest says {info['bytes']}")
    if set(actual) == set(listed):
        vh = verification_hash(actual)
        if vh != manifest.get("verification_hash"):
            problems.append(f"manifest.json: verification hash {manifest.get('verification_hash')}"
                            f" does not match the files ({vh})")

    # records
    for corpus in M.CORPORA:
        name = M.FILES[corpus]
        p = d / name
        if not p.is_file():
            continue
        records, probs = read_jsonl(p)
        problems.extend(probs)
        if listed.get(name, {}).get("records") not in (None, len(records)):
            problems.append(f"{name}: {len(records)} records, manifest says "
                            f"{listed[name]['records']}")
        ids: set[str] = set()
        by_split: dict[str, set] = {s: set() for s in SPLITS}
        ident_split: dict[Any, str] = {}
        n_rec_probs = 0
        for r in records:
            line = r.pop("_line")
            rp, ident = check_record(r, seed)
            if isinstance(r.get("id"), str):
                if r["id"] in ids:
                    rp.append(f"duplicate id {r['id']!r}")
                ids.add(r["id"])
            if ident is not None and r.get("split") in by_split:
                by_split[r["split"]].add((r["src_fmt"], r["src"], r["tgt_fmt"], r["tgt"]))
                prev = ident_split.setdefault(ident, r["split"])
                if prev != r["split"]:
                    rp.append(f"the same value is in {prev} and {r['split']}")
            for msg in rp:
                n_rec_probs += 1
                if n_rec_probs <= max_record_problems:
                    problems.append(f"{name}:{line}: {msg}")
        if n_rec_probs > max_record_problems:
            problems.append(f"{name}: {n_rec_probs - max_record_problems} more record problems")
        for other in SPLITS[1:]:
            leak = by_split["train"] & by_split[other]
            if leak:
                problems.append(f"{name}: {len(leak)} (src, tgt) pairs in both train and {other}")
        clean = [r for r in records if set(r) == set(RECORD_KEYS)]
        seen_novel = sorted({w for r in clean if r["split"] == "train"
                             for w in train_novel_words(r, seed)})
        if seen_novel:
            problems.append(f"{name}: train records hold {len(seen_novel)} words held out for "
                            f"novel ({', '.join(seen_novel[:5])})")
        want = manifest.get("counts", {}).get(corpus)
        got = counts_of(clean)
        if want != got:
            problems.append(f"{name}: counts per split × target format × category do not match "
                            f"the manifest ({_count_diff(want, got)})")
        md = d / f"{corpus}.md"
        if md.is_file():
            try:
                if render_markdown(corpus, clean) != md.read_text(encoding="utf-8"):
                    problems.append(f"{corpus}.md: does not match a rendering of {name}")
            except Exception as e:  # noqa: BLE001
                problems.append(f"{corpus}.md: cannot be re-rendered ({_err(e)})")
    return problems


def _count_diff(want: Any, got: Any) -> str:
    def flat(d, prefix=()):
        out = {}
        if isinstance(d, dict):
            for k, v in d.items():
                out.update(flat(v, prefix + (k,)))
        else:
            out["/".join(prefix)] = d
        return out

    a, b = flat(want or {}), flat(got or {})
    diffs = [f"{k}: manifest {a.get(k, 0)}, file {b.get(k, 0)}"
             for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return "; ".join(diffs[:5]) + (f"; {len(diffs) - 5} more" if len(diffs) > 5 else "")
