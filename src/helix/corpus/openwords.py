"""Open vocabulary: words, identifiers, paths, globs, file names and texts no lexicon lists.

The corpus fills part of its name, path and text slots from these generators, so that a brain
meets far more distinct words than it could memorise and has to learn to copy them. The words
come from two sources:

* the noun, verb and adjective lists of the ``wonderwords`` package (a pinned dependency, read
  from the installed package; its profanity list is left out), lower-case letters only;
* pronounceable made-up words (two or three syllables: ``tarvok``, ``melisu``).

Words that the templates or the lexicons already use (``closed``) are left out of the pool, so an
open draw is a word the closed grammar never names. Every generator takes a ``random.Random``
and is deterministic given it. Which words are held out for the ``novel`` split is decided in
``helix.corpus.splits`` (by hash of the word and the seed).
"""

from __future__ import annotations

import hashlib
import random
import re
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources

from helix.corpus.grammar import Lex, Open

WORDLIST_PACKAGE = "wonderwords"
_WORD_SHAPE = re.compile(r"[a-z]{3,10}")
_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br",
           "dr", "gr", "kr", "pl", "st", "tr", "ch", "sh", "th")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou")
_CODAS = ("", "", "", "n", "r", "l", "s", "k", "m", "x")
#: file extensions of open file names and globs (the lexicon's eight and more)
EXTENSIONS = ("json", "csv", "txt", "yaml", "log", "dat", "xml", "md", "yml", "toml", "ini",
              "cfg", "py", "js", "ts", "rs", "go", "sql", "sh", "html", "css", "png", "jpg",
              "bin", "lock", "conf", "tsv", "pdf")
_SEGMENT = r"[a-z][a-z0-9_]*"
WORD_RE = r"[a-z]{3,10}"
IDENT_RE = r"[a-z][a-z0-9]*(?:(?:[A-Z]|_)[a-z0-9]+)+"
NAME_RE = rf"(?:{IDENT_RE}|{WORD_RE})"
PATH_RE = rf"(?:/|~/){_SEGMENT}(?:/{_SEGMENT}){{0,3}}"
FILE_RE = rf"{NAME_RE}\.(?:{'|'.join(EXTENSIONS)})"
GLOB_RE = rf"(?:{_SEGMENT}/)?(?:{_SEGMENT}_)?\*\.(?:{'|'.join(EXTENSIONS)})"


class WordListMissing(RuntimeError):
    """The word-list package is not installed (``scripts/bootstrap.sh`` installs it)."""


def _package_words() -> list[str]:
    try:
        assets = resources.files(f"{WORDLIST_PACKAGE}.assets")
        texts = {n: (assets / f"{n}list.txt").read_text(encoding="utf-8")
                 for n in ("noun", "verb", "adjective", "profanity")}
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise WordListMissing(
            f"the corpus needs the word lists of the {WORDLIST_PACKAGE!r} package "
            f"(pip install -e . or scripts/bootstrap.sh installs it): {e}") from None
    bad = set(texts.pop("profanity").split())
    words = {w.strip() for t in texts.values() for w in t.split("\n")}
    return sorted(w for w in words if _WORD_SHAPE.fullmatch(w) and w not in bad)


@lru_cache(maxsize=1)
def word_pool() -> tuple[str, ...]:
    """The real words an open slot may draw: the package's lists minus every closed word."""
    from helix.corpus.splits import closed_words  # splits reads the families, which import us

    closed = closed_words()
    return tuple(w for w in _package_words() if w not in closed)


def pool_fingerprint() -> str:
    """SHA-256 of the word pool (recorded in the corpus manifest: a build is reproducible only
    with the same word list)."""
    return hashlib.sha256("\n".join(word_pool()).encode()).hexdigest()


def made_up_word(rng: random.Random) -> str:
    while True:
        w = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 3)))
        w += rng.choice(_CODAS)
        if _WORD_SHAPE.fullmatch(w):
            return w


def word(rng: random.Random) -> str:
    """A lower-case word: a real one (60%) or a made-up one."""
    if rng.random() < 0.6:
        return rng.choice(word_pool())
    return made_up_word(rng)


def identifier(rng: random.Random) -> str:
    """``retryCount``, ``max_depth``, ``userId2``: camelCase or snake_case, sometimes a number."""
    parts = [word(rng) for _ in range(rng.choice((2, 2, 3)))]
    if rng.random() < 0.5:
        out = parts[0] + "".join(p.capitalize() for p in parts[1:])
    else:
        out = "_".join(parts)
    if rng.random() < 0.3:
        out += str(rng.randint(1, 99))
    return out


def name(rng: random.Random) -> str:
    """A name of a thing: a word (60%) or an identifier."""
    return word(rng) if rng.random() < 0.6 else identifier(rng)


def path(rng: random.Random) -> str:
    segs = [word(rng) if rng.random() < 0.8 else identifier(rng).lower()
            for _ in range(rng.randint(1, 3))]
    return ("/" if rng.random() < 0.8 else "~/") + "/".join(segs)


def file_name(rng: random.Random) -> str:
    return f"{name(rng)}.{rng.choice(EXTENSIONS)}"


def glob(rng: random.Random) -> str:
    r = rng.random()
    ext = rng.choice(EXTENSIONS)
    if r < 0.4:
        return f"{word(rng)}/*.{ext}"
    if r < 0.7:
        return f"{word(rng)}_*.{ext}"
    return f"*.{ext}"


def quoted_text(rng: random.Random) -> str:
    """``"quiet harbor"``, ``"good morning 7"``: one to three words, at times a number."""
    parts = [word(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.25:
        parts.insert(rng.randint(0, len(parts)), str(rng.randint(0, 999)))
    return " ".join(parts)


# ---------------------------------------------------------------------- open slot kinds
#: share of draws of an open slot that come from the open generators (the rest: its lexicon);
#: the default of ``helix corpus build --open-share`` and of the main job
OPEN_SHARE = 0.5
_STATE = {"share": OPEN_SHARE}


def current_share() -> float:
    return _STATE["share"]


@contextmanager
def sharing(share: float):
    """Draw with this open share inside the block (a corpus build); 0 draws from the lexicons only,
    exactly as the closed corpus did."""
    old = _STATE["share"]
    _STATE["share"] = share
    try:
        yield
    finally:
        _STATE["share"] = old


def reserved(surface: str) -> bool:
    """A word of the closed grammar (``pass``, ``active``, ``testData``) is not an open surface."""
    from helix.corpus.splits import closed_words

    return surface.lower() in closed_words()


def handles(base: Lex, share=current_share) -> Open:
    """Nouns that become handles: the lexicon's, or any name (``&h_name``)."""
    return Open(base, NAME_RE, lambda s: "&h_" + s,
                lambda sem: sem[3:] if isinstance(sem, str) and sem.startswith("&h_") else None,
                name, share=share, reserved=reserved)


def texts(base: Lex, regex: str, gen, share=current_share) -> Open:
    """Text-valued slots whose surface is the text (paths, globs, file names, terms, names)."""
    return Open(base, regex, lambda s: s, lambda sem: sem if isinstance(sem, str) else None, gen,
                share=share, reserved=reserved)
