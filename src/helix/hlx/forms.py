"""The registry of HLX's surface forms: their names, kinds and labels, and one reader of form names.

Every other module takes its form names from here (``helix.hlx.convert`` holds the one check of
whether a text reads in a form, ``helix.system.router`` the words people use for each form).
"""

from __future__ import annotations

#: Forms of one value: each prints and reads every value, so any one converts to any other exactly.
VALUE_FORMS = ("hlxl", "hlx", "lc_t", "lc_b", "lc_r")
#: Forms of a program (the latent-space APIs).
PROGRAM_FORMS = ("hlxl_ls", "hlx_ls")
#: Every form the language core reads and prints.
FORMS = VALUE_FORMS + PROGRAM_FORMS
#: Every form a request may be in or ask for: the HLX forms and English (which no parser reads).
ALL_FORMS = FORMS + ("english",)

LABELS = {
    "hlxl": "HLXL",
    "hlx": "HLX",
    "lc_t": "LC-T",
    "lc_b": "LC-B",
    "lc_r": "LC-R",
    "hlxl_ls": "HLXL-LS",
    "hlx_ls": "HLX-LS",
    "english": "English",
}


def form_name(name: str | None, within: tuple[str, ...] = ALL_FORMS, *, what: str = "form",
              extra: tuple[str, ...] = ()) -> str:
    """A form's canonical name (``LC-T``, ``lc-t`` -> ``lc_t``) among ``within``, or one of the
    ``extra`` words (``auto``) as given; ValueError naming the choices otherwise."""
    f = (name or "").strip().lower().replace("-", "_")
    if f in within or f in extra:
        return f
    raise ValueError(f"unknown {what} {name!r} (one of: {', '.join(within + extra)})")
