"""Building, verifying and checking a (small) corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helix.corpus import build_corpus, corpus_stats, verify_corpus
from helix.corpus import mixes as M
from helix.corpus import splits as SP
from helix.corpus.build import CHARSET, CorpusError, sha256_hex, verification_hash
from helix.corpus.english import parse_english_all
from helix.corpus.grammar import freeze
from helix.corpus.programs import parse_program_english
from helix.hlx import convert, decode, encode

SIZE = 1500
SEED = 77


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "c"
    build_corpus(out, seed=SEED, size=SIZE)
    return out


def _records(d: Path, corpus: str) -> list[dict]:
    with open(d / M.FILES[corpus], encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _rewrite_manifest_hashes(d: Path) -> None:
    """Make the manifest agree with the files again (so only deeper checks can object)."""
    m = json.loads((d / "manifest.json").read_text())
    hashes = {}
    for name in m["files"]:
        data = (d / name).read_bytes()
        hashes[name] = sha256_hex(data)
        m["files"][name]["sha256"] = hashes[name]
        m["files"][name]["bytes"] = len(data)
    m["verification_hash"] = verification_hash(hashes)
    (d / "manifest.json").write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n")


def test_files_and_manifest(corpus):
    names = sorted(p.name for p in corpus.iterdir())
    assert names == sorted(["ascii.jsonl", "ascii.md", "canonical.jsonl", "canonical.md",
                            "manifest.json", "runic.jsonl", "runic.md"])
    m = json.loads((corpus / "manifest.json").read_text())
    assert m["seed"] == SEED and m["size"] == SIZE and m["generator_version"]
    for name, info in m["files"].items():
        assert sha256_hex((corpus / name).read_bytes()) == info["sha256"]
    assert m["verification_hash"] == verification_hash(
        {n: i["sha256"] for n, i in m["files"].items()})
    for c in M.CORPORA:
        recs = _records(corpus, c)
        assert m["files"][M.FILES[c]]["records"] == len(recs)
        train = sum(1 for r in recs if r["split"] == "train")
        assert train == SIZE
        counted = sum(n for fmts in m["counts"][c].values() for cats in fmts.values()
                      for n in cats.values())
        assert counted == len(recs)
        assert m["lengths"][c]["example"]["max"] <= 256
    assert m["skipped_ambiguous_sentences"] == 0
    md = (corpus / "canonical.md").read_text()
    assert "## operation" in md and "- LC-R: `" in md and "HLX-LS:" in md


def test_verify_passes_on_fresh_build(corpus):
    assert verify_corpus(corpus) == []


def test_build_is_deterministic(corpus, tmp_path):
    again = tmp_path / "again"
    build_corpus(again, seed=SEED, size=SIZE)
    for p in sorted(corpus.iterdir()):
        assert (again / p.name).read_bytes() == p.read_bytes(), p.name
    other = tmp_path / "other"
    build_corpus(other, seed=SEED + 1, size=SIZE)
    assert (other / "canonical.jsonl").read_bytes() != (corpus / "canonical.jsonl").read_bytes()


def test_build_is_deterministic_across_processes(tmp_path):
    """Same bytes from a fresh interpreter with another hash seed (no set-order dependence)."""
    here = tmp_path / "here"
    build_corpus(here, seed=5, size=200)
    code = ("import sys; from helix.corpus import build_corpus; "
            "build_corpus(sys.argv[1], seed=5, size=200)")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "there")], check=True, env=env)
    for p in sorted(here.iterdir()):
        assert (tmp_path / "there" / p.name).read_bytes() == p.read_bytes(), p.name


def test_rebuild_replaces_and_refuses_foreign_folder(tmp_path):
    out = tmp_path / "c"
    build_corpus(out, seed=1, size=60)
    first = (out / "canonical.jsonl").read_bytes()
    build_corpus(out, seed=2, size=60)
    assert (out / "canonical.jsonl").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temp folders left
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(CorpusError):
        build_corpus(foreign, seed=1, size=60)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(CorpusError):
        build_corpus(tmp_path / "x", seed=1, size=3)


def _tampered(corpus: Path, tmp_path: Path) -> Path:
    d = tmp_path / "t"
    shutil.copytree(corpus, d)
    return d


def test_verify_catches_hand_edited_target(corpus, tmp_path):
    d = _tampered(corpus, tmp_path)
    lines = (d / "ascii.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        r = json.loads(line)
        if r["tgt_fmt"] == "lc_t" and "INT(" in r["tgt"]:
            r["tgt"] = r["tgt"].replace("INT(", "INT(1", 1)  # still valid LC-T, other value
            lines[i] = json.dumps(r, ensure_ascii=False) + "\n"
            break
    else:
        pytest.fail("no LC-T target with an int")
    (d / "ascii.jsonl").write_text("".join(lines), encoding="utf-8")
    probs = verify_corpus(d)
    assert any(p.startswith("ascii.jsonl: SHA-256") for p in probs), probs
    _rewrite_manifest_hashes(d)
    probs = verify_corpus(d)
    assert any(p.startswith(f"ascii.jsonl:{i + 1}:") and "different value" in p
               for p in probs), probs


def test_verify_catches_edited_english_and_value(corpus, tmp_path):
    d = _tampered(corpus, tmp_path)
    lines = (d / "canonical.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    fwd = rev = None
    for i, line in enumerate(lines):
        r = json.loads(line)
        if fwd is None and r["src_fmt"] == "english" and r["category"] == "operation":
            r["src"] = r["src"] + " now"
            lines[i], fwd = json.dumps(r, ensure_ascii=False) + "\n", i
        elif rev is None and r["tgt_fmt"] == "english" and r["value"] is not None:
            r["tgt"] = "Represent " + r["tgt"]
            lines[i], rev = json.dumps(r, ensure_ascii=False) + "\n", i
    (d / "canonical.jsonl").write_text("".join(lines), encoding="utf-8")
    _rewrite_manifest_hashes(d)
    probs = verify_corpus(d)
    assert any(p.startswith(f"canonical.jsonl:{fwd + 1}:") and "readings" in p for p in probs)
    assert any(p.startswith(f"canonical.jsonl:{rev + 1}:") and "canonical description" in p
               for p in probs), probs


def test_verify_catches_missing_record(corpus, tmp_path):
    d = _tampered(corpus, tmp_path)
    lines = (d / "runic.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    del lines[17]
    (d / "runic.jsonl").write_text("".join(lines), encoding="utf-8")
    probs = verify_corpus(d)
    assert any(p.startswith("runic.jsonl: SHA-256") for p in probs), probs
    _rewrite_manifest_hashes(d)  # the hash no longer tells; the counts still do
    probs = verify_corpus(d)
    assert any("records, manifest says" in p for p in probs), probs
    assert any("counts per split" in p for p in probs), probs
    assert any(p.startswith("runic.md") for p in probs), probs


def test_verify_catches_wrong_hash(corpus, tmp_path):
    d = _tampered(corpus, tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    m["files"]["canonical.md"]["sha256"] = "0" * 64
    (d / "manifest.json").write_text(json.dumps(m))
    probs = verify_corpus(d)
    assert any(p.startswith("canonical.md: SHA-256") for p in probs), probs
    m = json.loads((corpus / "manifest.json").read_text())
    m["verification_hash"] = "f" * 64
    (d / "manifest.json").write_text(json.dumps(m))
    probs = verify_corpus(d)
    assert probs and all("verification hash" in p for p in probs), probs


def test_mixes_within_two_points(corpus):
    st = corpus_stats(corpus)
    for c in M.CORPORA:
        recs = _records(corpus, c)
        for split in (None, "train"):
            sub = [r for r in recs if split is None or r["split"] == split]
            for gname, (fmts, target) in M.MIX_GROUPS[c].items():
                share = sum(1 for r in sub if r["tgt_fmt"] in fmts) / len(sub)
                assert abs(share - target) <= 0.02, (c, split, gname, share, target)
        assert set(r["tgt_fmt"] for r in recs) == set(M.MIXES[c])
        for gname, g in st["corpora"][c]["mix"].items():
            assert abs(g["share"] - g["target"]) <= 0.02
    canonical = _records(corpus, "canonical")
    assert set(r["tgt_fmt"] for r in canonical) == set(M.ALL_FORMATS)  # all eight formats
    assert set(r["category"] for r in canonical) == set(M.ALL_CATEGORIES)  # every category
    pipelines = sum(1 for r in canonical if r["category"] == "pipeline")
    assert 0 < pipelines < 0.05 * len(canonical)  # nested pipelines: a small share


def test_no_leakage_between_splits(corpus):
    for c in M.CORPORA:
        recs = _records(corpus, c)
        pairs = {s: {(r["src"], r["tgt"]) for r in recs if r["split"] == s}
                 for s in ("train", "val", "test")}
        assert pairs["val"] and pairs["test"]
        assert not pairs["train"] & pairs["val"]
        assert not pairs["train"] & pairs["test"]
        split_of: dict = {}
        for r in recs:
            key = r["value"] if r["value"] is not None else (
                r["src"] if r["src_fmt"] == "hlxl_ls" else r["tgt"])
            if r["value"] is None and r["src_fmt"] == "english":
                key = parse_program_english(r["src"])
                if r["tgt_fmt"] == "hlxl_ls":
                    assert key == r["tgt"]
            elif r["value"] is None and "hlxl_ls" not in (r["src_fmt"], r["tgt_fmt"]):
                key = convert(r["src"] if r["src_fmt"] == "hlx_ls" else r["tgt"],
                              "hlx_ls", "hlxl_ls")
            assert split_of.setdefault(key, r["split"]) == r["split"], (c, key)


def test_heldout_combinations_absent_from_train(corpus):
    heldout_in_test, train_combos, train_nouns, train_verbs = set(), set(), set(), set()
    for c in M.CORPORA:
        for r in _records(corpus, c):
            if r["value"] is None:
                continue
            v = decode(r["value"], "hlx")
            combos = SP.op_combos(v)
            held = [x for x in combos if SP.heldout_combo(x, SEED)]
            nums = [n for n in SP.value_ints(v) if SP.heldout_number(n, SEED)]
            if r["split"] == "train":
                assert not held and not nums, (c, r["id"], held, nums)
                train_combos.update(combos)
                train_nouns.update(a for _, a in combos)
                train_verbs.update(vb for vb, _ in combos)
            elif r["split"] == "test":
                heldout_in_test.update(held)
                heldout_in_test.update(("number", n) for n in nums)
    pairs = {x for x in heldout_in_test if x[0] != "number"}
    assert len(pairs) >= 10 and any(x[0] == "number" for x in heldout_in_test)
    assert not pairs & train_combos
    # held-out pairs recombine parts that train has seen, with other partners
    for verb, noun in pairs:
        assert noun in train_nouns and verb in train_verbs, (verb, noun)


def test_holdout_rule_leaves_partners():
    """No noun loses every verb, and no verb every noun, to the hold-out."""
    from helix.corpus.families import FAMILIES
    from helix.corpus.lexicon import DATA

    nouns = [sem for _, sem in DATA]
    verbs = sorted({f.template[1000]["@0"] for f in FAMILIES if getattr(f, "category", "")
                    == "operation" and isinstance(f.template[1000]["@0"], str)})
    for noun in nouns:
        assert sum(not SP.heldout_combo((v, noun), SEED) for v in verbs) > len(verbs) // 2
    for v in verbs:
        assert sum(not SP.heldout_combo((v, n), SEED) for n in nouns) > len(nouns) // 2
    held = [n for n in range(21, 1000) if SP.heldout_number(n, SEED)]
    assert 40 < len(held) < 200 and 42 not in held


def test_budget_charset_and_reparse(corpus):
    """Every record: within budget, in the brains' alphabet, target re-parses to its value."""
    for c in M.CORPORA:
        for r in _records(corpus, c):
            assert len(r["src"]) + len(r["tgt"]) + 6 <= 256
            assert set(r["src"]) <= CHARSET and set(r["tgt"]) <= CHARSET
            fmt = r["tgt_fmt"]
            if r["value"] is not None:
                v = decode(r["value"], "hlx")
                if fmt == "english":
                    got = parse_english_all(r["tgt"])
                    assert len(got) == 1 and freeze(got[0][1]) == freeze(v), r["id"]
                else:
                    assert encode(decode(r["tgt"], fmt), fmt) == r["tgt"]
                    assert freeze(decode(r["tgt"], fmt)) == freeze(v), r["id"]
            elif fmt in M.PROGRAM_FORMS:
                other = "hlx_ls" if fmt == "hlxl_ls" else "hlxl_ls"
                assert convert(convert(r["tgt"], fmt, other), other, fmt) == r["tgt"]


def test_gate_requests_are_in_train(corpus):
    for c in M.CORPORA:
        recs = _records(corpus, c)
        index = {(r["src"], r["tgt_fmt"]): r for r in recs if r["src_fmt"] == "english"}
        for english, value in SP.GATE_REQUESTS:
            for fmt in M.MIXES[c]:
                if fmt in M.VALUE_FORMS:
                    r = index[(english, fmt)]
                    assert r["split"] == "train" and r["tgt"] == encode(value, fmt)
    canonical = _records(corpus, "canonical")
    assert any(r["src_fmt"] == "hlx" and r["src"] == "True" and r["tgt"] == "Represent true"
               and r["split"] == "train" for r in canonical)
    assert any(r["src_fmt"] == "hlxl_ls" and r["src"] == SP.GATE_PROGRAMS[0]
               and r["tgt_fmt"] == "hlx_ls" and r["split"] == "train" for r in canonical)


def test_records_are_shuffled(corpus):
    recs = _records(corpus, "ascii")
    assert [r["id"] for r in recs] == [f"ascii-{i:06d}" for i in range(len(recs))]
    first = [r["tgt_fmt"] for r in recs[:200]]
    assert len(set(first)) >= 4  # not grouped by target format
    assert {r["split"] for r in recs[:400]} == {"train", "val", "test", "novel"}


def test_killed_build_leaves_no_half_corpus(tmp_path, monkeypatch):
    """A build that dies while writing leaves the old corpus untouched and no temp folder."""
    import helix.corpus.build as B

    out = tmp_path / "c"
    build_corpus(out, seed=1, size=60)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(B, "atomic_write_json", boom)  # dies just before the manifest
    with pytest.raises(KeyboardInterrupt):
        build_corpus(out, seed=2, size=60)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]
    # a temp folder left by a killed process is cleaned up by the next build
    stale = tmp_path / ".c.building-999999999"
    stale.mkdir()
    monkeypatch.undo()
    build_corpus(out, seed=2, size=60)
    assert not stale.exists()
