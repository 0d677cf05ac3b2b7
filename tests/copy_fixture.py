"""A small trained fixture for copying (issue 27): three brains trained on requests whose only
hard part is a literal (a quoted text, a path, an identifier) drawn from the open generators.

``build_corpus`` writes a corpus folder (``canonical.jsonl``, ``ascii.jsonl``,
``runic.jsonl``) whose test records hold words that no training record holds; ``train_run``
trains the three brains into a run folder (``RUN/<brain>/checkpoints/...``) that
``helix.system.ask.System`` serves. Run as a script to calibrate: ``python tests/copy_fixture.py
OUT STEPS``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

#: (English templates, the value's builder); one slot each, filled by an open generator
FAMILIES = {
    "text": (["Text {q}", "Say {q}", "The text {q}"], lambda s: s),
    "navigate": (["Navigate to {p}", "Go to {p}"], lambda s: {1000: {"@0": "navigate", "@1": s}}),
    "get": (["Get the value of {i}", "Read {i}"], lambda s: {1000: {"@0": "get", "@1": "&h_" + s}}),
}
#: each brain's target forms (its own, as the router sends them)
TARGETS = {"coordinator": ("hlxl", "hlx"), "ascii": ("lc_t",), "runic": ("lc_r",)}


def _slot(fam: str, rng: random.Random) -> tuple[str, str]:
    """(the literal as the request writes it, the value's string)."""
    from helix.corpus import openwords as ow

    if fam == "text":
        w = " ".join(ow.word(rng) for _ in range(rng.randint(1, 2)))
        return f'"{w}"', w
    if fam == "navigate":
        p = ow.path(rng)
        return p, p
    i = ow.identifier(rng)
    return i, i


def records(n_train: int, n_test: int, seed: int = 0) -> tuple[list[tuple], list[tuple]]:
    """(train, test) as (family, English, value) triples; no test literal occurs in any training
    English text (so in no training record), and the test literals are pairwise distinct."""
    rng = random.Random(seed)
    train, seen = [], set()
    while len(train) < n_train:
        fam = rng.choice(list(FAMILIES))
        lit, s = _slot(fam, rng)
        templ, build = FAMILIES[fam]
        train.append((fam, rng.choice(templ).format(q=lit, p=lit, i=lit), build(s)))
        seen.add(s)
    blob = "\n".join(e for _, e, _ in train)
    test, used = [], set()
    trng = random.Random(seed + 1)
    while len(test) < n_test:
        fam = list(FAMILIES)[len(test) % len(FAMILIES)]
        lit, s = _slot(fam, trng)
        words = s.replace("/", " ").replace("~", " ").replace("_", " ").split()
        if s in used or any(w in blob for w in words):  # every word of it unseen in training
            continue
        used.add(s)
        templ, build = FAMILIES[fam]
        test.append((fam, templ[0].format(q=lit, p=lit, i=lit), build(s)))
    return train, test


def build_corpus(out: Path, n_train: int = 3000, n_test: int = 30, seed: int = 0) -> list[tuple]:
    """Write the corpus; returns the test triples."""
    import helix.hlx as h

    train, test = records(n_train, n_test, seed)
    out.mkdir(parents=True, exist_ok=True)
    for brain, forms in TARGETS.items():
        rows = []
        for split, recs in (("train", train), ("val", test[:6]), ("test", test)):
            for k, (fam, eng, v) in enumerate(recs):
                f = forms[k % len(forms)]
                rows.append({"id": f"{brain}-{split}-{k}", "split": split, "family": fam, "src_fmt": "english",
                             "src": eng, "tgt_fmt": f, "tgt": h.encode(v, f)})
        from helix.ml.data import CORPUS_FILES

        (out / CORPUS_FILES[brain]).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return test


def train_run(corpus: Path, run: Path, steps: int, *, threads: int = 1) -> dict:
    """Train the three brains from scratch into ``run``; returns seconds per brain."""
    import dataclasses

    from helix.ml.config import default_train_config
    from helix.ml.train import train

    out = {}
    for brain in TARGETS:
        t = time.perf_counter()
        # the shipped CPU recipe (Muon, warmup-stable-decay), capped at ``steps``, no early stop
        cfg = dataclasses.replace(default_train_config(brain, device="cpu"), corpus=str(corpus),
                                  out=str(run / brain), max_steps=steps, num_threads=threads, eval_sample=0,
                                  eval_every_steps=None, stop_at_target=False, patience=0, gate_min_exact=0.0,
                                  gate_floor=0.0, save_every_s=None, progress="off", warmup=min(200, steps // 5))
        train(cfg)
        out[brain] = time.perf_counter() - t
    return out


def survive(run: Path, test: list[tuple]) -> dict:
    """Per brain: how many test literals come back exactly through ``System.ask(raw=True)``."""
    import helix.hlx as h
    from helix.system.ask import System

    s = System(run, max_new_tokens=120)
    phrase = {"coordinator": "in HLXL", "ascii": "in LC-T", "runic": "in runic"}
    fmt = {"coordinator": "hlxl", "ascii": "lc_t", "runic": "lc_r"}
    res = {}
    for brain in TARGETS:
        ans = s.ask_many([(f"{eng} {phrase[brain]}", None) for _, eng, _ in test], raw=True)
        ok = [a.text == h.encode(v, fmt[brain]) for a, (_, _, v) in zip(ans, test)]
        res[brain] = {"right": sum(ok), "n": len(ok), "experts": sorted({a.route.expert for a in ans}),
                      "wrong": [(eng, a.text) for a, (_, eng, _), k in zip(ans, test, ok) if not k][:4]}
    return res


if __name__ == "__main__":
    out, steps = Path(sys.argv[1]), int(sys.argv[2])
    test = build_corpus(out / "corpus", n_train=int(sys.argv[3]) if len(sys.argv) > 3 else 3000)
    print("train s", train_run(out / "corpus", out / "run", steps))
    print(json.dumps(survive(out / "run", test), indent=1, ensure_ascii=False))
