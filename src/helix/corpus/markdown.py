"""Reference cards for people, generated from a corpus's JSONL records.

For each category: the English request, then the value in every form (rendered by the language
core from the record's ``value``), like a reference card. Only the first few distinct requests
of each category are shown (the JSONL is the corpus; the card is for reading).
"""

from __future__ import annotations

from helix.corpus import mixes as M
from helix.hlx import convert, decode, encode

CARDS_PER_CATEGORY = 12
_LABELS = {"hlxl": "HLXL", "hlx": "HLX", "lc_t": "LC-T", "lc_b": "LC-B", "lc_r": "LC-R",
           "hlxl_ls": "HLXL-LS", "hlx_ls": "HLX-LS"}


def _fence(text: str) -> list[str]:
    return ["```", text, "```"]


def render_markdown(corpus: str, records: list[dict]) -> str:
    n = len(records)
    lines = [f"# Helix corpus: {M.FILES[corpus]} ({M.BRAIN_OF[corpus]} brain)", "",
             f"{n} records. Generated from the JSONL; every form below is printed by the "
             "language core.", "", "| target format | records | share |", "|---|---:|---:|"]
    by_fmt: dict[str, int] = {}
    by_cat: dict[str, int] = {}
    for r in records:
        by_fmt[r["tgt_fmt"]] = by_fmt.get(r["tgt_fmt"], 0) + 1
        by_cat[r["category"]] = by_cat.get(r["category"], 0) + 1
    for fmt in M.ALL_FORMATS:
        if fmt in by_fmt:
            lines.append(f"| {fmt} | {by_fmt[fmt]} | {100 * by_fmt[fmt] / max(n, 1):.1f}% |")
    lines += ["", "| category | records |", "|---|---:|"]
    for cat in M.ALL_CATEGORIES:
        if cat in by_cat:
            lines.append(f"| {cat} | {by_cat[cat]} |")
    # cards: first distinct English requests per category (file order)
    cards: dict[str, list[dict]] = {}
    seen: set[str] = set()
    for r in records:
        if r["src_fmt"] != "english" or r["src"] in seen:
            continue
        lst = cards.setdefault(r["category"], [])
        if len(lst) >= CARDS_PER_CATEGORY:
            continue
        seen.add(r["src"])
        lst.append(r)
    programs: dict[str, dict[str, str]] = {}
    for r in records:
        if r["src_fmt"] == "english" and r["tgt_fmt"] in M.PROGRAM_FORMS:
            programs.setdefault(r["src"], {})[r["tgt_fmt"]] = r["tgt"]
    for cat in M.ALL_CATEGORIES:
        if cat not in cards:
            continue
        lines += ["", f"## {cat}"]
        for r in cards[cat]:
            lines += ["", f"### {r['src']}", ""]
            if r["value"] is not None:
                v = decode(r["value"], "hlx")
                for fmt in M.VALUE_FORMS:
                    lines.append(f"- {_LABELS[fmt]}: `{encode(v, fmt)}`")
            else:
                have = programs.get(r["src"], {})
                if "hlxl_ls" in have:
                    forms = {"hlxl_ls": have["hlxl_ls"],
                             "hlx_ls": convert(have["hlxl_ls"], "hlxl_ls", "hlx_ls")}
                elif "hlx_ls" in have:
                    forms = {"hlxl_ls": convert(have["hlx_ls"], "hlx_ls", "hlxl_ls"),
                             "hlx_ls": have["hlx_ls"]}
                else:
                    forms = {}
                for fmt, text in forms.items():
                    lines += ["", f"{_LABELS[fmt]}:", ""] + _fence(text)
    return "\n".join(lines) + "\n"
