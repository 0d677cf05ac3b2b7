"""The answer path: every expert's candidates, parsed by the core, chosen by vote, rendered exactly.

HLX's value forms are bijective, so a value any expert gets right in any form is right in every
form. For a request whose target F is a value form (HLXL, HLX, LC-T, LC-B, LC-R), :func:`plan`
lists the candidates: the routed expert in F, and each brain in the forms it is strongest in
(:func:`answer_forms`: measured per brain and form on the run's test split, stored with the run as
``answer_forms.json``; the defaults below where no measurement exists). Every candidate is decoded
under the grammar constraint (one batch for every brain where their weights stack, else one per
brain) and parsed by the language core. :func:`decide`
groups the candidates that parse by their value; a group's score is the sum of its candidates'
sequence probabilities (``exp`` of the model's log-probability); a value that carries every literal
of the request (``helix.system.literals``) ranks above one that does not; the routed expert breaks
ties. The core renders the chosen value in F exactly. When no candidate parses there is no answer,
and the candidates' errors say why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from helix.ml.tokenizer import BRAINS
from helix.system.literals import copy_check
from helix.system.router import VALUE_FORMS, expert_for

#: The forms each brain answers in besides the routed one, where the run has no measured choice.
DEFAULT_FORMS = {"coordinator": ("hlx",), "ascii": ("lc_t",), "runic": ("lc_r",)}
FORMS_FILE = "answer_forms.json"
#: A brain's extra forms: its best value form and every form within this many points of it.
FORMS_WITHIN = 0.01


@dataclass
class Candidate:
    brain: str
    fmt: str
    routed: bool = False  # the routed expert in the target form
    text: str | None = None
    logprob: float | None = None
    finished: bool = False
    valid: bool = False
    error: dict | None = None
    key: str | None = None  # the value's canonical LC-B: candidates with one key agree

    def to_dict(self) -> dict:
        return asdict(self)


def answer_forms(run_dir: str | Path | None) -> tuple[dict[str, tuple[str, ...]], str]:
    """(brain -> extra forms, where the choice comes from). Read from the run's ``answer_forms.json``
    (written by :func:`write_answer_forms` after the run's evaluation), else the defaults."""
    import json

    if run_dir is not None:
        try:
            d = json.loads((Path(run_dir) / FORMS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            d = None
        if isinstance(d, dict) and isinstance(d.get("forms"), dict):
            forms = {b: tuple(f for f in fs if f in VALUE_FORMS) for b, fs in d["forms"].items()
                     if b in DEFAULT_FORMS and isinstance(fs, list)}
            if forms:
                return forms, f"measured on the run's test split ({FORMS_FILE})"
    return dict(DEFAULT_FORMS), "the defaults (the run has no measured choice)"


def choose_forms(reports: dict[str, dict]) -> dict[str, list[str]]:
    """Per brain, from its test-split report (``helix eval`` JSON): the value forms whose exact
    match is within :data:`FORMS_WITHIN` of its best value form, best first."""
    out = {}
    for brain, rep in reports.items():
        rates = {f: s["exact_match"] for f, s in (rep.get("formats") or {}).items()
                 if f in VALUE_FORMS and s.get("exact_match") is not None}
        if rates:
            best = max(rates.values())
            out[brain] = sorted((f for f, r in rates.items() if r >= best - FORMS_WITHIN),
                                key=lambda f: (-rates[f], f))
    return out


def write_answer_forms(run_dir: str | Path, reports: dict[str, dict]) -> dict:
    """Store the measured choice with the run (atomically); returns what was written."""
    from helix.util import atomic_write_json

    forms = choose_forms(reports)
    rates = {b: {f: s["exact_match"] for f, s in (r.get("formats") or {}).items() if f in VALUE_FORMS}
             for b, r in reports.items()}
    doc = {"forms": forms, "test_exact_match": rates, "within": FORMS_WITHIN}
    atomic_write_json(Path(run_dir) / FORMS_FILE, doc)
    return doc


def plan(tgt_fmt: str, forms: dict[str, tuple[str, ...]], available=None) -> list[Candidate]:
    """The candidates for a request whose target is ``tgt_fmt``: the routed expert first, then
    each brain's forms (no pair twice). ``available`` (brain names) leaves out brains not loaded."""
    routed = expert_for(tgt_fmt)
    out = [Candidate(routed, tgt_fmt, routed=True)]
    seen = {(routed, tgt_fmt)}
    for brain in BRAINS:
        if available is not None and brain not in available:
            continue
        for f in forms.get(brain, ()):
            if (brain, f) not in seen:
                seen.add((brain, f))
                out.append(Candidate(brain, f))
    return out


def parse(c: Candidate, text: str, logprob: float, finished: bool) -> None:
    """Fill a candidate from its generation: valid when the core reads it (its value's key)."""
    import helix.hlx as h

    c.text, c.logprob, c.finished = text, logprob, finished
    try:
        c.key = h.encode(h.decode(text, c.fmt), "lc_b")
        c.valid = True
    except Exception as e:  # noqa: BLE001 - HLXError; anything else is the candidate's error too
        to_dict = getattr(e, "to_dict", None)
        c.error = to_dict() if callable(to_dict) else {"code": "E_MODEL", "message": f"{type(e).__name__}: {e}"}
        if not finished:
            c.error = {"code": "E_UNFINISHED", "message": "the model hit the length limit before ending its answer"}


def decide(request: str | None, src_fmt: str, tgt_fmt: str, candidates: list[Candidate]) -> dict:
    """The vote. Returns ``{"text", "votes", "chosen", "reasons"}``: the chosen value rendered in
    ``tgt_fmt`` by the core (None when no candidate parses, with every candidate's error in
    ``reasons``), and per value its candidates, score and whether it carries the request's literals."""
    import helix.hlx as h

    groups: dict[str, list[int]] = {}
    for i, c in enumerate(candidates):
        if c.valid:
            groups.setdefault(c.key, []).append(i)
    if not groups:
        reasons = [f"{c.brain} in {c.fmt}: {(c.error or {}).get('code', 'invalid')}: "
                   f"{(c.error or {}).get('message', '')}" for c in candidates]
        return {"text": None, "votes": [], "chosen": None, "reasons": reasons}
    votes = []
    for key, idx in groups.items():
        text = h.encode(h.decode(candidates[idx[0]].text, candidates[idx[0]].fmt), tgt_fmt)
        copies = None
        if request is not None and src_fmt == "english":
            chk = copy_check(request, text, tgt_fmt)
            copies = bool(chk["ok"]) if chk["literals"] else None
        votes.append({"text": text, "candidates": idx,
                      "score": round(sum(math.exp(candidates[i].logprob or 0.0) for i in idx), 6),
                      "copies": copies, "routed": any(candidates[i].routed for i in idx)})
    votes.sort(key=lambda v: (v["copies"] is not False, v["score"], v["routed"]), reverse=True)
    return {"text": votes[0]["text"], "votes": votes, "chosen": 0, "reasons": []}


def explain_lines(candidates: list[dict], outcome: dict, extra: str) -> list[str]:
    """Human lines for ``--explain``: the candidates (as :meth:`Candidate.to_dict` gives them),
    their forms, probabilities and the vote."""
    from helix.system.router import FORM_LABEL

    lines = [f"answer:   the system path, {len(candidates)} candidates (the routed expert; {extra})"]
    for i, c in enumerate(candidates):
        p = f"p {math.exp(c['logprob']):.3f}" if c["logprob"] is not None else "p -"
        state = "parses" if c["valid"] else f"invalid ({(c['error'] or {}).get('code')})"
        lines.append(f"  [{i}] {c['brain']:11} {FORM_LABEL[c['fmt']]:5} {p}  {state}  {c['text']!r}"
                     + ("  <- routed" if c["routed"] else ""))
    copy = {True: "carries the request's literals", False: "MISSING a literal", None: "no literal to carry"}
    for j, v in enumerate(outcome["votes"]):
        lines.append(f"  vote {'*' if j == outcome['chosen'] else ' '} score {v['score']:.3f} from "
                     f"{', '.join(f'[{i}]' for i in v['candidates'])}; {copy[v['copies']]}: {v['text']!r}")
    for r in outcome["reasons"]:
        lines.append(f"  no candidate parses: {r}")
    return lines
