"""Corpus builder benchmark: build time, counts, verify time, example coverage.

    nice .venv/bin/python benchmarks/bench_corpus.py [--size N] [--seed S] [--out DIR] [--profile]

Prints figures only (no pass/fail): build wall time and records per second, train records per
corpus, target-format shares, length distribution, verify time, the share of the public example
pairs the grammar produces and the share whose sentence the corpus contains verbatim, and
words in test requests that never occur in train requests.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from helix.corpus import DEFAULT_SEED, DEFAULT_SIZE, build_corpus, verify_corpus
from helix.corpus import mixes as M
from helix.corpus.examples import coverage_report, default_pairs_path, load_pairs


def unseen_test_words(directory: Path, corpus: str) -> dict[str, int]:
    words = re.compile(r"(?<![0-9a-fx])[A-Za-z]+")
    train: set[str] = set()
    test: dict[str, int] = {}
    recs = [json.loads(x) for x in (directory / M.FILES[corpus]).read_text().splitlines()]
    for r in recs:
        if r["split"] == "train":
            for side in ("src", "tgt"):
                if r[f"{side}_fmt"] == "english":
                    train.update(w.lower() for w in words.findall(r[side]))
    for r in recs:
        if r["split"] == "test" and r["src_fmt"] == "english":
            for w in {w.lower() for w in words.findall(r["src"])} - train:
                test[w] = test.get(w, 0) + 1
    return test


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--profile", action="store_true", help="cProfile the build (slower)")
    args = ap.parse_args()
    tmp = None
    out = args.out
    if out is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench_corpus_"))
        out = tmp / "corpus"
    try:
        t0 = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            m = build_corpus(out, seed=args.seed, size=args.size)
            prof.disable()
            build_s = time.perf_counter() - t0
            st = pstats.Stats(prof, stream=sys.stdout)
            st.sort_stats("cumulative").print_stats(25)
        else:
            m = build_corpus(out, seed=args.seed, size=args.size)
            build_s = time.perf_counter() - t0
        total = sum(f.get("records", 0) for f in m["files"].values())
        print(f"build: seed {args.seed}, size {args.size}: {build_s:.1f} s wall, {total} records "
              f"({total / build_s:.0f} records/s)")
        for c in M.CORPORA:
            counts = m["counts"][c]
            per_split = {s: sum(n for cats in counts[s].values() for n in cats.values())
                         for s in counts}
            print(f"  {M.FILES[c]}: {per_split}")
            print(f"    target shares: {m['shares'][c]}")
            print(f"    lengths (src+tgt+6): {m['lengths'][c]['example']}")
            print(f"    target lengths: {m['lengths'][c]['target']}")
            cats: dict[str, int] = {}
            for fmts in counts.values():
                for cc in fmts.values():
                    for k, n in cc.items():
                        cats[k] = cats.get(k, 0) + n
            print("    categories: " + ", ".join(f"{k} {n}" for k, n in
                                                sorted(cats.items(), key=lambda kv: -kv[1])))
            unseen = unseen_test_words(out, c)
            print(f"    words in test requests never in train English: {len(unseen)} "
                  f"{sorted(unseen.items(), key=lambda kv: -kv[1])[:10]}")
        print(f"  skipped ambiguous sentences: {m['skipped_ambiguous_sentences']}")
        t0 = time.perf_counter()
        problems = verify_corpus(out)
        print(f"verify: {time.perf_counter() - t0:.1f} s wall, {len(problems)} problems")
        for p in problems[:10]:
            print("  " + p)
        pairs_path = default_pairs_path()
        if pairs_path.is_file():
            rep = coverage_report(load_pairs(pairs_path), out)
            print(f"example pairs: {rep['pairs']} ({rep['expressible']} expressible): "
                  f"{rep['by_status']}")
            print(f"  produced by the generator's conventions: {rep['generated_share']:.1%}")
            print(f"  sentence contained verbatim in the corpus: {rep['verbatim']}/{rep['pairs']}"
                  f" = {rep['verbatim_share']:.1%}")
        else:
            print(f"example pairs: {pairs_path} not present")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
