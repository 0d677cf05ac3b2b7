"""Completion search used to check that every prefix the checker accepts can really be completed
(shared by tests/test_forms_prefix.py and fuzz/fuzz_readers.py).

The search only uses ``is_valid_prefix`` to prune and the automaton's own completeness to stop;
the strict reader must accept what it finds. For LC-B it extends byte by byte greedily: with an
exact automaton an accepted step never leads to a dead end, so getting stuck exposes a bug.
"""

from __future__ import annotations

import random

from helix.hlx import prefix
from helix.hlx.convert import decode
from helix.hlx.errors import HLXError
from helix.hlx.prefix import automaton_complete, is_valid_prefix


def _reads(text: str, fmt: str) -> bool:
    try:
        decode(text, fmt)
        return True
    except HLXError:
        return False


# Characters a completion search tries, in order: closers first, then the shortest values and
# what closes them, then filler (the rest of printable ASCII and the glyphs follow).
ALPHABET = {
    "lc_r": ['"', "🜄", "◆", "🜂", ",", " ", ":", "∅", "0", ".", "1", "9", "e", "-", "+", "6", "z", "@",
             "🜁", "🜃", "◇", "🜊", "⟁", "⊠"],
    "hlx": ['"', "]", "}", ",", " ", ":", "N", "o", "n", "e", "0", ".", "1", "9", "-", "+", "6", "z",
            "@", "\\", "x", "{", "[", "b"],
    "hlxl": ['"', "]", "}", ",", " ", ":", "n", "u", "l", "0", ".", "1", "9", "e", "-", "+", "6", "z",
             "@", "{", "["],
    "lc_t": ['"', ")", "]", ",", " ", "A", "R", "_", "E", "N", "D", "O", "B", "J", "U", "L", "0", ".",
             "1", "9", "e", "-", "+", "6", "z", "F", "I", "T", "K", "Y", "(", "S", "X", "H", "&", "h"],
    "lc_b": ["]", "0", "1", "2", "4", "6", "7", "3", "5", "8", "a", "f", "9", "b", "c", "d", "e"],
}
_REST = [chr(c) for c in range(0x20, 0x7F)] + list("∅⊤⊥⊠⟁🜊🜁🜂🜃🜄◇◆")
for _f, _a in ALPHABET.items():
    _a.extend(c for c in _REST if c not in _a)


SMALL_PENDING = 4096


def lcb_pending_is_small(text: str) -> bool:
    """True when the LC-B prefix's open declarations (counts left, bytes left in a text, key or
    bytes value, a LEB128 still being read) are small. The checker enforces the 1 MiB size limit
    only through a lower bound, so its exactness is checked where that bound cannot matter."""
    st = prefix.prefix_state(text, "lc_b")
    if st is None or st[0] != "HEX":
        return True
    mode, data, stack, _pos = st[2]
    for f in stack:
        if f[0] == "A" and f[2] > 64:
            return False
        if f[0] == "O" and (f[2] > 64 or (f[4] is not None and len(f[4]) > 64)):
            return False
    if mode in ("TXT", "KEY") and data[0] > SMALL_PENDING:
        return False
    if mode == "BYT" and data > SMALL_PENDING:
        return False
    if mode == "ULEB" and len(data[1]) >= 2:
        return False
    return True


def complete_lcb_greedily(text: str) -> str | None:
    """LC-B: extend byte by byte, always taking the first byte the automaton accepts (null, the
    closing tags and short sizes first). With an exact automaton an accepted step never leads
    to a dead end, so this never needs to backtrack; getting stuck would expose a bug."""
    st = prefix.prefix_state(text, "lc_b")
    if st is None:
        return None
    mode, nib, bst = st
    if mode == "DONE":
        return text
    bm = prefix._machine("lc_b").bm
    out = []
    order = [0x00, 0x06, 0x08] + list(range(1, 256))
    if nib is not None:  # finish the pending byte
        for lo in range(16):
            nb = bm.step(bst, nib << 4 | lo)
            if nb is not None:
                out.append(f"{lo:x}")
                bst = nb
                break
        else:
            return None
    for _ in range(2_000_000):
        if bst[0] == "END":
            done = text + "".join(out) + "]"
            assert _reads(done, "lc_b"), done[:200]
            return done
        for b in order:
            nb = bm.step(bst, b)
            if nb is not None:
                out.append(f"{b:02x}")
                bst = nb
                break
        else:
            return None
    return None


def complete_by_search(text: str, fmt: str, budget: int = 20_000, max_len: int = 3000) -> str | None:
    """A completion of ``text`` in the checker's language, found by depth-first search that uses
    is_valid_prefix only to prune; the strict reader must accept what it finds."""
    if fmt == "lc_b":
        return complete_lcb_greedily(text)
    nodes = 0
    if automaton_complete(text, fmt):
        assert _reads(text, fmt), (fmt, text)
        return text
    stack = [(text, iter(ALPHABET[fmt]))]
    while stack:
        cur, it = stack[-1]
        for c in it:
            nxt = cur + c
            nodes += 1
            if nodes > budget:
                return None
            if not is_valid_prefix(nxt, fmt):
                continue
            if automaton_complete(nxt, fmt):
                assert _reads(nxt, fmt), (fmt, nxt)
                return nxt
            if len(nxt) - len(text) < max_len:
                stack.append((nxt, iter(ALPHABET[fmt])))
            break
        else:
            stack.pop()
    return None


def mutate(text: str, rnd: random.Random, fmt: str) -> str:
    if fmt == "lc_b":  # byte-level, with small bytes (tags, short sizes): no multi-byte sizes appear
        data = bytearray(bytes.fromhex(text[3:-1]))
        for _ in range(rnd.randint(1, 2)):
            i = rnd.randrange(len(data) + 1)
            op = rnd.random()
            b = rnd.randrange(0x10) if rnd.random() < 0.8 else rnd.randrange(0x80)
            if op < 0.4 and data:
                data[min(i, len(data) - 1)] = b
            elif op < 0.8:
                data.insert(i, b)
            elif data:
                del data[min(i, len(data) - 1)]
        return "[0x" + data.hex() + "]"
    chars = list(text)
    for _ in range(rnd.randint(1, 3)):
        op = rnd.random()
        i = rnd.randrange(len(chars) + 1)
        c = rnd.choice(ALPHABET[fmt])
        if op < 0.4 and chars:
            chars[min(i, len(chars) - 1)] = c
        elif op < 0.8:
            chars.insert(i, c)
        elif chars:
            del chars[min(i, len(chars) - 1)]
    return "".join(chars)
