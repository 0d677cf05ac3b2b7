"""``corpus_stats(dir)``: counts and shares of a built corpus (what ``helix corpus stats`` shows)."""

from __future__ import annotations

import json
from pathlib import Path

from helix.corpus import mixes as M


def corpus_stats(directory: str | Path) -> dict:
    """Per corpus: records, and counts/shares by split, target format, source format, category.

    Raises FileNotFoundError when the folder holds no corpus file, ValueError on a bad line.
    """
    d = Path(directory)
    out: dict = {"corpora": {}}
    mpath = d / "manifest.json"
    if mpath.is_file():
        m = json.loads(mpath.read_text(encoding="utf-8"))
        out.update({k: m.get(k) for k in ("generator_version", "seed", "size",
                                          "verification_hash")})
        out["lengths"] = m.get("lengths", {})
    found = False
    for corpus in M.CORPORA:
        p = d / M.FILES[corpus]
        if not p.is_file():
            continue
        found = True
        recs = []
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{p.name}:{i}: not JSON ({e.msg})") from None
            if not isinstance(r, dict) or not all(k in r for k in
                                                  ("split", "tgt_fmt", "src_fmt", "category")):
                raise ValueError(f"{p.name}:{i}: not a corpus record")
            recs.append(r)
        n = len(recs)
        entry: dict = {"file": M.FILES[corpus], "brain": M.BRAIN_OF[corpus], "records": n}
        for field in ("split", "tgt_fmt", "src_fmt", "category"):
            counts: dict[str, int] = {}
            for r in recs:
                counts[r[field]] = counts.get(r[field], 0) + 1
            entry[field] = {k: {"count": counts[k], "share": counts[k] / n if n else 0.0}
                            for k in sorted(counts, key=lambda k: (-counts[k], k))}
        groups = {}
        for gname, (fmts, target) in M.MIX_GROUPS[corpus].items():
            got = sum(entry["tgt_fmt"].get(f, {}).get("count", 0) for f in fmts)
            groups[gname] = {"formats": list(fmts), "target": target,
                             "share": got / n if n else 0.0}
        entry["mix"] = groups
        train = sum(1 for r in recs if r["split"] == "train")
        entry["train_records"] = train
        out["corpora"][corpus] = entry
    if not found:
        raise FileNotFoundError(f"no corpus files in {d}")
    return out
