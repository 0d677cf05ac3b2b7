"""Numbers written as English words, both ways.

Convention (one spelling per number): ``0``-``999`` only; tens and units joined by a hyphen
(``forty-two``), hundreds without "and" (``one hundred five``, ``three hundred forty-two``).
``words_to_int`` accepts exactly what ``int_to_words`` writes, so a sentence never reads two ways.
"""

from __future__ import annotations

import re

UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy",
        8: "eighty", 9: "ninety"}
MAX_WORDS = 999


def int_to_words(n: int) -> str:
    """``42`` → ``forty-two``; only 0..999 have words (ValueError otherwise)."""
    if not 0 <= n <= MAX_WORDS or isinstance(n, bool):
        raise ValueError(f"no words for {n!r} (0..{MAX_WORDS} only)")
    if n < 20:
        return UNITS[n]
    if n < 100:
        t, u = divmod(n, 10)
        return TENS[t] if u == 0 else f"{TENS[t]}-{UNITS[u]}"
    h, rest = divmod(n, 100)
    head = f"{UNITS[h]} hundred"
    return head if rest == 0 else f"{head} {int_to_words(rest)}"


_WORDS_TO_INT = {int_to_words(i): i for i in range(MAX_WORDS + 1)}

# One alternation of every atom a number word is built from; used inside template regexes.
_ATOMS = sorted(set(UNITS) | set(TENS.values()) | {"hundred"}, key=lambda w: (-len(w), w))
_ATOM = "(?:" + "|".join(_ATOMS) + ")"
WORDS_REGEX = rf"{_ATOM}(?:[- ]{_ATOM})*"


def words_to_int(s: str) -> int | None:
    """Inverse of :func:`int_to_words`; None for anything it would not write."""
    return _WORDS_TO_INT.get(s)


def is_number_words(s: str) -> bool:
    return s in _WORDS_TO_INT


# Digits as a template writes them: canonical decimal, no leading zeros, optional minus sign.
DIGITS_REGEX = r"-?(?:0|[1-9][0-9]*)"
_DIGITS_RE = re.compile(DIGITS_REGEX + r"\Z")


def parse_int_surface(s: str, *, words: bool = True) -> int | None:
    """``"42"`` or ``"forty-two"`` → 42; None when ``s`` is neither canonical spelling."""
    if _DIGITS_RE.match(s):
        return int(s)
    if words:
        return words_to_int(s)
    return None
