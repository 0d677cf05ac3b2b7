"""Real (English → value) pairs: semantic match per form, raw and through the system.

    .venv/bin/python benchmarks/bench_pairs.py RUN_DIR [--pairs ../shared/examples/corpus_pairs.jsonl]
                                               [--threads 2] [--json OUT]

For each target form (HLXL, HLX, LC-T, LC-B, LC-R), every pair of the file is asked once
through the routed expert alone (``raw``: greedy, no constraint) and once through ``helix ask``'s
path (``system``: every brain's constrained candidates, the vote, the core's rendering,
helix.system.answer). Both are judged
by semantic match (the answer parses and means the expected value). Each figure is given on the
whole file and on the **determined** pairs: those whose value the English fully determines,
i.e. every string (handle names and texts, the operation's verb apart) and every number of the
expected value appears in the request (a handle ``&h_retryCount`` appears as ``retryCount`` or
as the words ``retry count``; a number as digits or words). Those are the pairs a brain can get
right only by copying the request.

Then the issue's probe requests (words no lexicon holds: ``Navigate to /opt/app/config``,
``Text "good morning 7"`` ...), asked in LC-R and LC-T, raw and through the system, with the
copy check's verdict.

Skips cleanly (exit 0, a message) when the pairs file is absent. Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from helix.corpus import numbers
from helix.corpus.splits import words_of
from helix.hlx import decode
from helix.ml import hlxcheck
from helix.ml.data import read_jsonl
from helix.ml.tokenizer import route_for
from helix.system.ask import System
from helix.system.literals import copy_check

FORMS = ("hlxl", "hlx", "lc_t", "lc_b", "lc_r")
PROBES = ("Navigate to /opt/app/config", "Mute the speaker", "Compile the shader",
          "Get the value of retryCount", 'Text "good morning 7"', "Find files matching *.yaml",
          "Compress the backup", "Navigate to /home/user", "Copy the quokka", "Count the retryCount",
          "Delete old_invoices2", "Read settings_v2.toml", "Find logs/*.toml",
          'Text "harbor lights 42"', "Search tickets for zeppelin")


def _atoms(v, out_s: list[str], out_n: list, top: bool = True) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            if k == 1000 and isinstance(x, dict):  # an operation: its verb is the grammar's
                for kk, xx in x.items():
                    if kk != "@0":
                        _atoms(xx, out_s, out_n, False)
            else:
                if isinstance(k, str) and not k.startswith("@"):
                    out_s.append(k)
                _atoms(x, out_s, out_n, False)
    elif isinstance(v, list):
        for x in v:
            _atoms(x, out_s, out_n, False)
    elif isinstance(v, str):
        out_s.append(v[3:] if v.startswith("&h_") else v)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        out_n.append(v)


def determined(english: str, value) -> bool:
    """Every string and number of ``value`` appears in ``english`` (see the module docstring)."""
    strings, nums = [], []
    _atoms(value, strings, nums)
    low = english.lower()
    words = set(words_of(english))
    for s in strings:
        if s.lower() not in low and not (words_of(s) and set(words_of(s)) <= words):
            return False
    for n in nums:
        spelled = [str(n)]
        if isinstance(n, int) and 0 <= n <= numbers.MAX_WORDS:
            spelled.append(numbers.int_to_words(n))
        if not any(x in low for x in spelled):
            return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--pairs", type=Path, default=Path(__file__).resolve().parents[1].parent
                    / "shared" / "examples" / "corpus_pairs.jsonl")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if not a.pairs.is_file():
        print(f"skipped: {a.pairs} not found")
        return 0
    torch.set_num_threads(a.threads)
    pairs = read_jsonl(a.pairs)
    system = System(a.run)
    det = [determined(p["english"], decode(p["hlx"], "hlx")) for p in pairs]
    print(f"{len(pairs)} pairs, {sum(det)} determined by their English")
    out: dict = {"pairs": len(pairs), "determined": sum(det), "forms": {}}
    print(f"{'form':6} {'raw all':>8} {'system all':>11} {'raw det.':>9} {'system det.':>12}")
    for fmt in FORMS:
        idx = [i for i, p in enumerate(pairs) if isinstance(p.get(fmt), str)]
        raw = system.brain(route_for(fmt)).generate([("english", pairs[i]["english"], fmt) for i in idx])
        sysa = system.ask_many([(pairs[i]["english"], fmt) for i in idx])
        rows = {"raw": [bool(hlxcheck.semantic_match(fmt, g.text, pairs[i][fmt])) for i, g in zip(idx, raw)],
                "system": [bool(ans.ok and hlxcheck.semantic_match(fmt, ans.text, pairs[i][fmt]))
                           for i, ans in zip(idx, sysa)]}
        d = [det[i] for i in idx]
        fig = {}
        for k, hits in rows.items():
            fig[f"{k}_all"] = sum(hits) / len(hits)
            dh = [h for h, x in zip(hits, d) if x]
            fig[f"{k}_determined"] = sum(dh) / len(dh) if dh else None
        fig["n"], fig["n_determined"] = len(idx), sum(d)
        out["forms"][fmt] = fig
        pct = lambda x: "-" if x is None else f"{x * 100:.1f}%"  # noqa: E731
        print(f"{fmt:6} {pct(fig['raw_all']):>8} {pct(fig['system_all']):>11} {pct(fig['raw_determined']):>9} "
              f"{pct(fig['system_determined']):>12}   (n {fig['n']}, determined {fig['n_determined']})")
    print("\nprobe requests (words no lexicon holds):")
    probes = []
    for path in ("raw", "system"):
        for fmt in ("lc_r", "lc_t"):
            for text, ans in zip(PROBES, system.ask_many([(t, fmt) for t in PROBES], raw=path == "raw")):
                chk = copy_check(text, ans.text or "", fmt) if ans.ok else None
                carried = chk is not None and not chk["missing"]
                probes.append({"request": text, "to": fmt, "path": path, "answer": ans.text, "carried": carried})
                print(f"  {'ok  ' if carried else 'MISS'} {path:6} {fmt:5} {text!r:40} → {ans.text}")
    out["probes"] = probes
    for path in ("raw", "system"):
        out[f"probes_carried_{path}"] = sum(p["carried"] for p in probes if p["path"] == path)
        print(f"literals carried, {path}: {out[f'probes_carried_{path}']} of {len(probes) // 2}")
    if a.json:
        from helix.util import atomic_write_json

        atomic_write_json(a.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
