"""Tokenizers: character-level (``helix-char``) and lexical (``helix-lex``, the CPU default).

Both start from the same fixed base: specials, one tag per format, the route tags, then the
characters every corpus text can contain (ASCII printable, newline, the LC-R glyphs). ``<unk>``
is never a real character: a character outside the vocabulary encodes to it and is counted,
never silently dropped.

The lexical tokenizer adds the forms' own lexical units, so a record is about half as many
tokens (docs/BRAINS.md): the LC-T words (``ARR_START``, ``INT(``, ``FIELD_`` ...), the
separators ``, `` and ``: ``, the handle prefix ``&h_``, LC-B's ``[0x`` and its 256 hex byte
pairs (an LC-B text is ``[0x``, one token per byte, ``]``), and the English and identifier words
(letters only) that occur at least ``min_count`` times in the training records. Digits stay one
per token, so numbers keep their digit structure; a word outside the vocabulary is spelled in
characters. Decoding is concatenation, so any token sequence decodes and the grammar constraint
(a text prefix check) works unchanged. The vocabulary is saved in ``tokenizer.json``.

The case-folding variant (``helix-lexcase``, ``--tokenizer lex-case``) keeps its words in lower
case and writes a capital as the marker ``<cap>`` before the lower-case piece: ``Scroll`` is
``<cap> scroll`` when ``scroll`` is a word of the vocabulary, else ``<cap> s c r o l l``; a capital
inside a word (``retryCount``) is ``<cap> c``. So a word and its capitalised form share their
pieces. Decoding capitalises the first character of the piece after a ``<cap>``
(:meth:`Tokenizer.extend` is that rule, one token at a time, for generation).

Sequence layout (docs/CONVENTIONS.md)::

    <bos> <fmt:SRC> src-chars <fmt:TGT> <sep> [<route:X>] tgt-chars <eos>

The loss covers everything after ``<sep>`` (route tag, target characters, ``<eos>``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from helix.util import atomic_write_json

FORMATS = ("english", "hlxl", "hlxl_ls", "hlx", "hlx_ls", "lc_t", "lc_b", "lc_r")
ROUTES = ("ascii", "runic", "coordinator")
BRAINS = ("coordinator", "ascii", "runic")
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>", "<sep>")
LCR_GLYPHS = "∅⊤⊥⊠⟁🜊🜁🜂🜃🜄◇◆"
CHARS = "".join(chr(c) for c in range(0x20, 0x7F)) + "\n" + LCR_GLYPHS
TOKENIZER_VERSION = 1
LEX_VERSION = 1
CAP = "<cap>"  # the case marker of helix-lexcase: the next piece starts with a capital
#: LC-T's words (spec §5), longest first so that the lexer prefers them.
LCT_WORDS = ("OBJ_START", "ARR_START", "OBJ_END", "ARR_END", "HANDLE(", "FIELD_", "FLOAT(", "BYTES(",
             "FALSE", "TEXT(", "NULL", "TRUE", "INT(", "KEY(")
LEX_UNITS = (", ", ": ", "&h_", "[0x")
HEX_PAIRS = tuple(f"{i:02x}" for i in range(256))
_LEX = re.compile("|".join(re.escape(w) for w in LCT_WORDS + LEX_UNITS[:3]) + r"|[A-Za-z]+|.", re.S)
_LCB_TEXT = re.compile(r"\[0x(?:[0-9a-f]{2})*\]")
_WORD = re.compile(r"[A-Za-z]{2,}")
# Characters that make up "runs" for the model's run-position embedding (helix.ml.model): words,
# numbers, handles (`&h_x`) and the hex digits of an LC-B payload.
RUN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_&.")


def route_for(tgt_fmt: str) -> str:
    """Routing rule: LC-T/LC-B → ascii specialist, LC-R → runic, anything else → coordinator."""
    if tgt_fmt in ("lc_t", "lc_b"):
        return "ascii"
    if tgt_fmt == "lc_r":
        return "runic"
    return "coordinator"


@dataclass(frozen=True)
class Encoded:
    ids: list[int]
    prompt_len: int  # number of tokens up to and including <sep>; the target starts here
    n_unk: int


def base_tokens() -> list[str]:
    return list(SPECIALS) + [f"<fmt:{f}>" for f in FORMATS] + [f"<route:{r}>" for r in ROUTES] + list(CHARS)


def corpus_words(texts, min_count: int = 20, keep=None, *, fold: bool = False) -> list[str]:
    """Letter runs of two or more letters seen at least ``min_count`` times, most frequent first;
    with ``keep`` (a set of lower-case words), only the runs whose lower-case form is in it; with
    ``fold``, runs counted in lower case (``Get`` and ``get`` are one word)."""
    c: Counter = Counter()
    for t in texts:
        runs = _WORD.findall(t)
        c.update([w.lower() for w in runs] if fold else runs)
    return [w for w, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))
            if n >= min_count and (keep is None or w.lower() in keep)]


class Tokenizer:
    """A vocabulary (``tokens`` lists every token string by id) and its lexer.

    ``Tokenizer()`` is the character tokenizer; ``Tokenizer.lexical(words)`` the lexical one
    (``case=True``: the case-folding one, whose vocabulary holds ``<cap>``).
    """

    def __init__(self, tokens: list[str] | None = None, *, kind: str = "char") -> None:
        if tokens is None:
            tokens = base_tokens()
        if kind not in ("char", "lex"):
            raise ValueError(f"tokenizer kind must be char or lex, not {kind!r}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("tokenizer vocabulary holds a duplicate token")
        for s in SPECIALS:
            if s not in tokens:
                raise ValueError(f"tokenizer vocabulary lacks {s}")
        if any(not isinstance(t, str) or not t for t in tokens):
            raise ValueError("tokenizer vocabulary holds an empty or non-text token")
        self.kind = kind
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id = self.index["<pad>"]
        self.unk_id = self.index["<unk>"]
        self.bos_id = self.index["<bos>"]
        self.eos_id = self.index["<eos>"]
        self.sep_id = self.index["<sep>"]
        self.fmt_ids = {f: self.index[f"<fmt:{f}>"] for f in FORMATS if f"<fmt:{f}>" in self.index}
        self.route_ids = {
            r: self.index[f"<route:{r}>"] for r in ROUTES if f"<route:{r}>" in self.index
        }
        self.id_to_route = {i: r for r, i in self.route_ids.items()}
        specials = set(SPECIALS) | {f"<fmt:{f}>" for f in FORMATS} | {f"<route:{r}>" for r in ROUTES}
        self.special_ids = frozenset(i for i, t in enumerate(self.tokens) if t in specials)
        # text tokens: everything that is not a special (single characters and lexical units)
        self.text_ids = {t: i for i, t in enumerate(self.tokens) if t not in specials}
        self.cap_id = self.text_ids.get(CAP) if kind == "lex" else None
        self.case = self.cap_id is not None
        self.id_to_text = {i: t for t, i in self.text_ids.items()}
        if self.case:
            self.id_to_text[self.cap_id] = ""  # writes nothing itself; capitalises what follows
        self.char_ids = {t: i for t, i in self.text_ids.items() if len(t) == 1}
        self.id_to_char = {i: t for t, i in self.char_ids.items()}
        if kind == "char" and len(self.char_ids) != len(self.text_ids):
            raise ValueError("a character tokenizer holds multi-character tokens (use kind 'lex')")

    @classmethod
    def lexical(cls, words=(), *, case: bool = False) -> "Tokenizer":
        """The lexical vocabulary: the base, LC-T words, separators, hex pairs, then ``words``
        (``case``: the marker ``<cap>`` too, and the words in lower case)."""
        tokens = base_tokens()
        seen = set(tokens)
        if case:
            words = [w.lower() for w in words]
        for t in (*LCT_WORDS, *LEX_UNITS, *HEX_PAIRS, *((CAP,) if case else ()), *words):
            if t not in seen:
                seen.add(t)
                tokens.append(t)
        return cls(tokens, kind="lex")

    @classmethod
    def from_records(cls, records, *, min_count: int = 20, keep=None, case: bool = False) -> "Tokenizer":
        """Lexical tokenizer whose words come from corpus records (their non-LC-B texts).

        ``keep`` restricts the words to a closed set (the corpus grammar's own words): the open
        words a corpus draws (``helix.corpus.openwords``) are then spelled in characters in every
        split alike, so a word the brain has never seen is encoded the way the words it learned
        to copy were, never as a token it has no embedding for."""
        texts = (r[k] for r in records for k in ("src", "tgt") if r.get(f"{k}_fmt") != "lc_b")
        return cls.lexical(corpus_words(texts, min_count, keep, fold=case), case=case)

    def run_char_mask(self) -> list[bool]:
        """Per token id: whether it is part of a run (every character in ``RUN_CHARS``)."""
        return [i == self.cap_id or (i not in self.special_ids and all(c in RUN_CHARS for c in t))
                for i, t in enumerate(self.tokens)]  # a case marker belongs to the word it starts

    # -- size ------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def padded_vocab_size(self, multiple: int = 64) -> int:
        """Embedding rows: the vocabulary rounded up (faster matmuls); extra rows are unused."""
        return -(-self.vocab_size // multiple) * multiple

    # -- encoding --------------------------------------------------------------------------
    def encode_text(self, text: str, fmt: str | None = None) -> tuple[list[int], int]:
        """Text → ids; returns (ids, number of characters that became <unk>). ``fmt`` (the
        text's form) matters to the lexical tokenizer only: LC-B text is read as hex byte pairs."""
        get = self.char_ids.get
        if self.kind == "char":
            ids = [get(ch, self.unk_id) for ch in text]
            return ids, sum(1 for i in ids if i == self.unk_id)
        lex = self.text_ids
        if fmt == "lc_b" and _LCB_TEXT.fullmatch(text):
            return [lex["[0x"], *(lex[text[i:i + 2]] for i in range(3, len(text) - 1, 2)), lex["]"]], 0
        ids: list[int] = []
        unk = 0
        for m in _LEX.finditer(text):
            piece = m.group()
            i = lex.get(piece)
            if i is not None:
                ids.append(i)
                continue
            if self.case and piece.isascii() and piece.isalpha():
                low = piece.lower()
                j = lex.get(low)
                if j is not None and piece == low.capitalize():  # Scroll -> <cap> scroll
                    ids += [self.cap_id, j]
                    continue
                for ch in piece:  # retryCount -> r e t r y <cap> c o u n t
                    if ch.isupper():
                        ids += [self.cap_id, get(ch.lower())]
                    else:
                        ids.append(get(ch))
                continue
            for ch in piece:  # a word outside the vocabulary: its characters
                j = get(ch)
                if j is None:
                    unk += 1
                    j = self.unk_id
                ids.append(j)
        return ids, unk

    def fmt_id(self, fmt: str) -> int:
        try:
            return self.fmt_ids[fmt]
        except KeyError:
            raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})") from None

    def encode_prompt(self, src_fmt: str, src: str, tgt_fmt: str) -> tuple[list[int], int]:
        """``<bos> <fmt:SRC> src <fmt:TGT> <sep>``; returns (ids, n_unk)."""
        body, n_unk = self.encode_text(src, src_fmt)
        return [self.bos_id, self.fmt_id(src_fmt), *body, self.fmt_id(tgt_fmt), self.sep_id], n_unk

    def encode_example(
        self, src_fmt: str, src: str, tgt_fmt: str, tgt: str, *, route: str | None = None
    ) -> Encoded:
        prompt, n1 = self.encode_prompt(src_fmt, src, tgt_fmt)
        out, n2 = self.encode_text(tgt, tgt_fmt)
        head = [self.route_ids[route]] if route is not None else []
        return Encoded(prompt + head + out + [self.eos_id], len(prompt), n1 + n2)

    # -- decoding --------------------------------------------------------------------------
    def extend(self, text: str, cap: bool, i: int) -> tuple[str, bool]:
        """One token's effect on a decoded text: (the text, whether a capital is pending)."""
        if i == self.cap_id:
            return text, True
        piece = self.id_to_text.get(i)
        if piece is None:  # a special: nothing, and the pending capital stays pending
            return text, cap
        if cap:
            return text + piece[0].upper() + piece[1:], False
        return text + piece, False

    def decode(self, ids, *, strip_specials: bool = True) -> str:
        """Ids → text. Specials are dropped (or written as their names, ``<cap>`` included, the
        piece after it then left in lower case); decoding stops at <eos>."""
        text, cap = "", False
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if not strip_specials and (i == self.cap_id or i not in self.id_to_text) and 0 <= i < len(self.tokens):
                text += self.tokens[i]
                continue
            text, cap = self.extend(text, cap, i)
        return text

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        if self.case:
            return {"type": "helix-lexcase", "version": 1, "tokens": self.tokens}
        if self.kind == "lex":
            return {"type": "helix-lex", "version": LEX_VERSION, "tokens": self.tokens}
        return {"type": "helix-char", "version": TOKENIZER_VERSION, "tokens": self.tokens}

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        if not isinstance(d, dict) or d.get("type") not in ("helix-char", "helix-lex", "helix-lexcase") \
                or not isinstance(d.get("tokens"), list):
            raise ValueError("not a helix tokenizer.json (expected type 'helix-char', 'helix-lex' or "
                             "'helix-lexcase' and tokens)")
        kind = "char" if d["type"] == "helix-char" else "lex"
        if (CAP in d["tokens"]) != (d["type"] == "helix-lexcase"):
            raise ValueError(f"tokenizer.json of type {d['type']!r} {'lacks' if d['type'] == 'helix-lexcase' else 'holds'} "
                             f"the case marker {CAP}")
        return cls(d["tokens"], kind=kind)

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.kind == other.kind and self.tokens == other.tokens

    def __hash__(self) -> int:  # pragma: no cover - identity by vocabulary
        return hash(tuple(self.tokens))
