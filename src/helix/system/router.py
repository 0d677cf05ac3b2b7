"""The router: which form a request is in, which form it wants, and who answers it.

``route(text, to=None) -> Route``. The source form is detected exactly by the language core
(:func:`helix.hlx.detect_form`); the target comes from ``to`` or from a phrase in the request
("in runic", "as LC-T", "in binary", "to English", ...), which is stripped before the text goes
to a model. When both sides are HLX forms the language core converts exactly and no model runs
(``expert == "core"``, ``direct``). Otherwise the target decides the expert: LC-T and LC-B go to
the ASCII specialist, LC-R to the runic specialist, everything else to the coordinator.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from helix.hlx.forms import ALL_FORMS, FORMS, PROGRAM_FORMS, VALUE_FORMS, form_name
from helix.hlx.forms import LABELS as FORM_LABEL

# Names people use for each form, longest alternatives first where one is a prefix of another.
_FORM_WORDS: list[tuple[str, str]] = [
    ("hlxl_ls", r"hlxl[-_ ]?ls"),
    ("hlx_ls", r"hlx[-_ ]?ls|latent[- ]space(?:\s+(?:api|python))?"),
    ("hlxl", r"hlxl|hlx[-_ ]?lite|high[- ]level\s+syntax"),
    ("lc_t", r"lc[-_ ]?t|ascii(?:\s+wire)?|text\s+wire|wire\s+text|token\s+stream"),
    ("lc_b", r"lc[-_ ]?b|binary|hex(?:adecimal)?\s+bytes|wire\s+bytes"),
    ("lc_r", r"lc[-_ ]?r|runic|runes?|glyphs"),
    ("hlx", r"hlx|contract\s+form"),
    ("english", r"plain\s+english|english|words"),
]
_FMT_ALT = "|".join(f"(?P<{name}>{pat})" for name, pat in _FORM_WORDS)
_SUFFIX = r"(?:\s+(?:form|format|notation|syntax|encoding|text|representation))?"
_PREP = r"(?:in|as|to|into|using)"
_TRAILING = re.compile(
    rf"(?:\s*[,;:]\s*|\s+)(?:please\s+)?(?:(?:written|expressed|encoded|converted|rendered|given)\s+)?"
    rf"{_PREP}\s+(?:the\s+|an?\s+)?(?:{_FMT_ALT}){_SUFFIX}(?:\s*,?\s*please)?\s*[.!?]*\s*$",
    re.IGNORECASE,
)
_LEADING = re.compile(
    rf"^\s*(?:(?:convert|translate|rewrite|render|encode|express|write)\s+(?:this\s+|it\s+)?)?"
    rf"{_PREP}\s+(?:the\s+|an?\s+)?(?:{_FMT_ALT}){_SUFFIX}\s*[:,\-]\s*",
    re.IGNORECASE,
)
# "Convert X to HLX": after the trailing phrase is gone, a verb may stand before the payload.
_VERB = re.compile(
    r"^\s*(?:please\s+)?(?:convert|translate|rewrite|render|encode|express|write|show|give\s+me)"
    r"\s+(?:this\s+|the\s+value\s+|the\s+following\s*:?\s*)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Route:
    src_fmt: str  # english | hlxl | hlx | lc_t | lc_b | lc_r | hlxl_ls | hlx_ls
    tgt_fmt: str
    expert: str  # core | coordinator | ascii | runic
    reason: str
    direct: bool  # True: the language core converts exactly, no model runs
    text: str = ""  # what is converted / what the model sees (the target phrase removed)
    target_from: str = "default"  # "--to" | "phrase" | "default"

    def to_dict(self) -> dict:
        return asdict(self)


class RouteError(ValueError):
    """A request the router cannot route (empty text, unknown target format)."""


def normalize_format(name: str) -> str:
    """``--to`` value -> form name. Accepts form names and the words people use (LC-R, runic...)."""
    if name is None:
        raise RouteError("no format given")
    s = name.strip()
    try:
        return form_name(s)
    except ValueError:
        pass
    for fmt, pat in _FORM_WORDS:
        if re.fullmatch(rf"(?:{pat}){_SUFFIX}", s, re.IGNORECASE):
            return fmt
    raise RouteError(
        f"unknown target format {name!r}: use one of {', '.join(ALL_FORMS)} "
        "(or LC-T, LC-B, LC-R, runic, binary, HLX, HLXL, English)"
    )


def _which(m: re.Match) -> str:
    for fmt, _ in _FORM_WORDS:
        if m.group(fmt):
            return fmt
    raise AssertionError("no format group matched")  # pragma: no cover


def split_target(text: str) -> tuple[str, str | None, str | None]:
    """(request without the target phrase, target form or None, the phrase as written)."""
    m = _TRAILING.search(text)
    if m and m.start() > 0 and text[: m.start()].strip():
        return text[: m.start()].rstrip(), _which(m), m.group(0).strip()
    m = _LEADING.match(text)
    if m and text[m.end():].strip():
        return text[m.end():].strip(), _which(m), m.group(0).strip()
    return text, None, None


def expert_for(tgt_fmt: str) -> str:
    """The rule: LC-T/LC-B -> ascii specialist, LC-R -> runic specialist, else coordinator."""
    if tgt_fmt in ("lc_t", "lc_b"):
        return "ascii"
    if tgt_fmt == "lc_r":
        return "runic"
    return "coordinator"


def default_target(src_fmt: str) -> str:
    """Target when the request names none: English -> HLXL; HLXL <-> HLX; wire forms -> HLXL;
    programs HLXL-LS <-> HLX-LS."""
    return {
        "english": "hlxl",
        "hlxl": "hlx",
        "hlx": "hlxl",
        "lc_t": "hlxl",
        "lc_b": "hlxl",
        "lc_r": "hlxl",
        "hlxl_ls": "hlx_ls",
        "hlx_ls": "hlxl_ls",
    }[src_fmt]


def _detect(text: str) -> str | None:
    from helix.hlx import detect_form

    return detect_form(text)


def route(text: str, to: str | None = None) -> Route:
    """Route one request. ``to`` overrides any target phrase in the text."""
    if not isinstance(text, str) or not text.strip():
        raise RouteError("empty request: type a sentence or an HLX text")
    raw = text.strip()
    tgt = normalize_format(to) if to else None
    target_from = "--to" if tgt else "default"
    phrase = None

    src = _detect(raw)
    payload = raw
    if src is None:
        stripped, found, phrase = split_target(raw)
        if found is not None:
            if tgt is None:
                tgt, target_from = found, "phrase"
            payload = stripped
            src = _detect(payload)
            if src is None:
                unverbed = _VERB.sub("", payload, count=1).strip()
                if unverbed != payload and unverbed:
                    form = _detect(unverbed)
                    if form is not None:
                        src, payload = form, unverbed
        elif tgt is not None:
            unverbed = _VERB.sub("", raw, count=1).strip()
            if unverbed != raw and unverbed and _detect(unverbed) is not None:
                src, payload = _detect(unverbed), unverbed
    if src is None:
        src = "english"
        if phrase is None:
            payload = raw
    if tgt is None:
        tgt = default_target(src)

    how = {"--to": "given explicitly (--to)", "phrase": f"from the phrase {phrase!r}", "default": "the default"}[
        target_from
    ]
    src_how = "English (no HLX form parses)" if src == "english" else f"{FORM_LABEL[src]} (parses exactly)"
    if src in FORMS and tgt in FORMS:
        if (src in PROGRAM_FORMS) != (tgt in PROGRAM_FORMS):
            kinds = ("a program", "a value") if src in PROGRAM_FORMS else ("a value", "a program")
            raise RouteError(
                f"the request is {kinds[0]} in {FORM_LABEL[src]}; {FORM_LABEL[tgt]} is {kinds[1]} form: "
                "values convert among HLXL, HLX, LC-T, LC-B, LC-R and programs between HLXL-LS and HLX-LS"
            )
        reason = (
            f"source {src_how}; target {FORM_LABEL[tgt]} {how}; both are HLX forms, so the "
            "language core converts exactly and no model runs"
        )
        return Route(src, tgt, "core", reason, True, payload, target_from)
    expert = expert_for(tgt)
    who = {
        "ascii": "LC-T/LC-B targets go to the ASCII specialist",
        "runic": "LC-R targets go to the runic specialist",
        "coordinator": f"{FORM_LABEL[tgt]} targets go to the coordinator",
    }[expert]
    reason = f"source {src_how}; target {FORM_LABEL[tgt]} {how}; {who}"
    return Route(src, tgt, expert, reason, False, payload, target_from)
