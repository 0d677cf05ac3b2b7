"""Character-level tokenizer over a fixed vocabulary.

One token per Unicode code point. The vocabulary is fixed (it does not depend on the corpus):
specials, one tag per format, the route tags, then the characters every corpus text can contain
(ASCII printable, newline, the LC-R glyphs). ``<unk>`` is never a real character: a character
outside the vocabulary encodes to it and is counted, never silently dropped.

Sequence layout (docs/CONVENTIONS.md)::

    <bos> <fmt:SRC> src-chars <fmt:TGT> <sep> [<route:X>] tgt-chars <eos>

The loss covers everything after ``<sep>`` (route tag, target characters, ``<eos>``).
"""

from __future__ import annotations

import json
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


class Tokenizer:
    """Fixed character vocabulary; ``tokens`` lists every token string by id."""

    def __init__(self, tokens: list[str] | None = None) -> None:
        if tokens is None:
            tokens = (
                list(SPECIALS)
                + [f"<fmt:{f}>" for f in FORMATS]
                + [f"<route:{r}>" for r in ROUTES]
                + list(CHARS)
            )
        if len(set(tokens)) != len(tokens):
            raise ValueError("tokenizer vocabulary holds a duplicate token")
        for s in SPECIALS:
            if s not in tokens:
                raise ValueError(f"tokenizer vocabulary lacks {s}")
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
        self.char_ids = {t: i for i, t in enumerate(self.tokens) if len(t) == 1}
        self.id_to_char = {i: t for t, i in self.char_ids.items()}
        self.special_ids = frozenset(i for i, t in enumerate(self.tokens) if len(t) != 1)

    def run_char_mask(self) -> list[bool]:
        """Per token id: whether it is a run character (``RUN_CHARS``)."""
        return [t in RUN_CHARS for t in self.tokens]

    # -- size ------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def padded_vocab_size(self, multiple: int = 64) -> int:
        """Embedding rows: the vocabulary rounded up (faster matmuls); extra rows are unused."""
        return -(-self.vocab_size // multiple) * multiple

    # -- encoding --------------------------------------------------------------------------
    def encode_text(self, text: str) -> tuple[list[int], int]:
        """Characters → ids; returns (ids, number of characters that became <unk>)."""
        get = self.char_ids.get
        ids = [get(ch, self.unk_id) for ch in text]
        return ids, sum(1 for i in ids if i == self.unk_id)

    def fmt_id(self, fmt: str) -> int:
        try:
            return self.fmt_ids[fmt]
        except KeyError:
            raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})") from None

    def encode_prompt(self, src_fmt: str, src: str, tgt_fmt: str) -> tuple[list[int], int]:
        """``<bos> <fmt:SRC> src <fmt:TGT> <sep>``; returns (ids, n_unk)."""
        body, n_unk = self.encode_text(src)
        return [self.bos_id, self.fmt_id(src_fmt), *body, self.fmt_id(tgt_fmt), self.sep_id], n_unk

    def encode_example(
        self, src_fmt: str, src: str, tgt_fmt: str, tgt: str, *, route: str | None = None
    ) -> Encoded:
        prompt, n1 = self.encode_prompt(src_fmt, src, tgt_fmt)
        out, n2 = self.encode_text(tgt)
        head = [self.route_ids[route]] if route is not None else []
        return Encoded(prompt + head + out + [self.eos_id], len(prompt), n1 + n2)

    # -- decoding --------------------------------------------------------------------------
    def decode(self, ids, *, strip_specials: bool = True) -> str:
        """Ids → text. Specials are dropped (or written as their names); decoding stops at <eos>."""
        parts = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            ch = self.id_to_char.get(i)
            if ch is not None:
                parts.append(ch)
            elif not strip_specials and 0 <= i < len(self.tokens):
                parts.append(self.tokens[i])
        return "".join(parts)

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"type": "helix-char", "version": TOKENIZER_VERSION, "tokens": self.tokens}

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        if d.get("type") != "helix-char" or not isinstance(d.get("tokens"), list):
            raise ValueError("not a helix tokenizer.json (expected type 'helix-char' and tokens)")
        return cls(d["tokens"])

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.tokens == other.tokens

    def __hash__(self) -> int:  # pragma: no cover - identity by vocabulary
        return hash(tuple(self.tokens))
