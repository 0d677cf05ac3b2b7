"""What each corpus holds: target-format mixes, source formats per target, category weights."""

from __future__ import annotations

from helix.hlx.forms import PROGRAM_FORMS, VALUE_FORMS

ALL_FORMATS = ("english",) + VALUE_FORMS[:2] + PROGRAM_FORMS + VALUE_FORMS[2:]
CORPORA = ("canonical", "ascii", "runic")
FILES = {"canonical": "canonical.jsonl", "ascii": "ascii.jsonl", "runic": "runic.jsonl"}
BRAIN_OF = {"canonical": "coordinator", "ascii": "ascii", "runic": "runic"}

# Share of each corpus's records by target format (issue: ascii 60% LC-T+LC-B, 20% English,
# 10% HLX/HLXL, 10% LC-R; runic 60% LC-R, 20% English, 10% HLX/HLXL, 10% LC-T; the coordinator
# covers all eight formats).
MIXES: dict[str, dict[str, float]] = {
    "ascii": {"lc_t": 0.30, "lc_b": 0.30, "english": 0.20, "hlx": 0.05, "hlxl": 0.05,
              "lc_r": 0.10},
    "runic": {"lc_r": 0.60, "english": 0.20, "hlx": 0.05, "hlxl": 0.05, "lc_t": 0.10},
    "canonical": {"english": 0.16, "hlxl": 0.14, "hlx": 0.13, "hlxl_ls": 0.08, "hlx_ls": 0.08,
                  "lc_t": 0.14, "lc_b": 0.13, "lc_r": 0.14},
}

# The groups the issue states shares for (checked by the tests, ±2 points).
MIX_GROUPS: dict[str, dict[str, tuple[tuple[str, ...], float]]] = {
    "ascii": {"ascii_wire": (("lc_t", "lc_b"), 0.60), "english": (("english",), 0.20),
              "hlx_hlxl": (("hlx", "hlxl"), 0.10), "lc_r": (("lc_r",), 0.10)},
    "runic": {"lc_r": (("lc_r",), 0.60), "english": (("english",), 0.20),
              "hlx_hlxl": (("hlx", "hlxl"), 0.10), "lc_t": (("lc_t",), 0.10)},
    "canonical": {f: ((f,), s) for f, s in MIXES["canonical"].items()},
}

# Source format weights per (corpus, target format). "english" as a source means a forward task
# (request → form); a form as the source of an English target is a reverse task; a form to a
# form is a cross-form task.
SOURCES: dict[str, dict[str, dict[str, float]]] = {
    "ascii": {
        "lc_t": {"english": 0.75, "hlxl": 0.07, "hlx": 0.06, "lc_b": 0.06, "lc_r": 0.06},
        "lc_b": {"english": 0.75, "hlxl": 0.07, "hlx": 0.06, "lc_t": 0.06, "lc_r": 0.06},
        "english": {"lc_t": 0.55, "lc_b": 0.25, "hlxl": 0.10, "hlx": 0.10},
        "hlx": {"english": 0.5, "lc_t": 0.2, "lc_b": 0.2, "hlxl": 0.1},
        "hlxl": {"english": 0.5, "lc_t": 0.2, "lc_b": 0.2, "hlx": 0.1},
        "lc_r": {"english": 0.6, "lc_t": 0.2, "lc_b": 0.1, "hlxl": 0.1},
    },
    "runic": {
        "lc_r": {"english": 0.75, "hlxl": 0.08, "hlx": 0.07, "lc_t": 0.06, "lc_b": 0.04},
        "english": {"lc_r": 0.70, "hlxl": 0.10, "hlx": 0.10, "lc_t": 0.10},
        "hlx": {"english": 0.5, "lc_r": 0.4, "hlxl": 0.1},
        "hlxl": {"english": 0.5, "lc_r": 0.4, "hlx": 0.1},
        "lc_t": {"english": 0.6, "lc_r": 0.3, "hlxl": 0.1},
    },
    "canonical": {
        "english": {"hlxl": 0.2, "hlx": 0.2, "lc_t": 0.12, "lc_b": 0.1, "lc_r": 0.12,
                    "hlxl_ls": 0.13, "hlx_ls": 0.13},
        "hlxl": {"english": 0.7, "hlx": 0.1, "lc_t": 0.07, "lc_b": 0.06, "lc_r": 0.07},
        "hlx": {"english": 0.7, "hlxl": 0.1, "lc_t": 0.07, "lc_b": 0.06, "lc_r": 0.07},
        "hlxl_ls": {"english": 0.6, "hlx_ls": 0.4},
        "hlx_ls": {"english": 0.6, "hlxl_ls": 0.4},
        "lc_t": {"english": 0.7, "hlxl": 0.08, "hlx": 0.08, "lc_b": 0.07, "lc_r": 0.07},
        "lc_b": {"english": 0.7, "hlxl": 0.08, "hlx": 0.08, "lc_t": 0.07, "lc_r": 0.07},
        "lc_r": {"english": 0.7, "hlxl": 0.08, "hlx": 0.08, "lc_t": 0.07, "lc_b": 0.07},
    },
}

# Content categories drawn for value tasks (weights; a category whose small domain is used up
# simply stops adding records). Nested pipelines are kept a small share: they are long.
CATEGORY_WEIGHTS: dict[str, float] = {
    "operation": 40, "pipeline": 4, "null": 1, "boolean": 2, "int": 5, "float": 3, "text": 3,
    "bytes": 2, "handle": 3, "array": 7, "record": 5, "fields": 2, "literal_contract": 8,
    "expression_contract": 8, "system_contract": 3, "gpu_contract": 4,
}
TASK_CATEGORIES = ("program", "reverse", "cross_form")
ALL_CATEGORIES = tuple(CATEGORY_WEIGHTS) + TASK_CATEGORIES

# Every split's size relative to train (size = train records per corpus). ``novel`` holds the
# values that name a held-out open word (helix.corpus.splits).
SPLIT_FRACTIONS = {"train": 1.0, "val": 0.05, "test": 0.05, "novel": 0.025}

BUDGET = 256  # len(src) + len(tgt) + SPECIALS <= BUDGET
SPECIALS = 6


def apportion(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Integer counts summing to ``total`` in the given shares (largest remainder)."""
    raw = {k: total * s / sum(shares.values()) for k, s in shares.items()}
    out = {k: int(v) for k, v in raw.items()}
    rest = total - sum(out.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))[:rest]:
        out[k] += 1
    return out
