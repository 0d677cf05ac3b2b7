"""Hypothesis strategies for HLX values and texts (shared by tests/ and fuzz/fuzz_readers.py).

``values()`` covers every type of the value model: null, bools, ints over the whole signed
64-bit range (extremes included), finite floats (``-0.0``, subnormals, extremes), texts (any
Unicode scalar incl. astral, control characters and non-NFC input), bytes, symbolic and hash
handles, arrays, records, fields objects and contracts (ids over the whole 0..2^32-1 range,
registered ones often).
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1

IDENT_START = string.ascii_letters + "_"
IDENT_CHARS = IDENT_START + string.digits
REGISTERED = [1, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 103, 800, 801, 802, 803, 900, 901, 902, 1000]

ints = st.one_of(
    st.integers(min_value=INT_MIN, max_value=INT_MAX),
    st.sampled_from([0, 1, -1, 63, 64, -64, -65, 127, 128, INT_MAX, INT_MIN, 2**53 + 1]),
    st.integers(min_value=-1000, max_value=1000),
)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 0.5, 3.14, 1e16, 1e-05, 1e-4, 5e-324, 1.7976931348623157e308,
                     -2.5, 9007199254740993.0, 0.1 + 0.2, 123456789.125]),
)
# Texts: any scalar value (no surrogates); hypothesis' default alphabet includes controls and
# astral characters. Texts starting with "&h_" are handles, so they are drawn separately.
texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0x300, max_codepoint=0x36F) | st.sampled_from("aeoAE가\u1100\u1161"), max_size=6),
    st.sampled_from(["", "hello", "café", "cafe\u0301", "rune \U0001f701", "a\"b\\c\n\t\r", "\x07\x7f", "&h", "&", "@0"]),
).filter(lambda s: not s.startswith("&h_"))
handle_names = st.text(alphabet=IDENT_CHARS, min_size=1, max_size=12)
handles = st.one_of(
    handle_names.map(lambda n: "&h_" + n),
    st.binary(min_size=32, max_size=32).map(lambda b: "&h_int_" + b.hex()),
)
idents = st.text(alphabet=IDENT_CHARS, min_size=1, max_size=8).filter(lambda s: s[0] in IDENT_START)
field_keys = st.one_of(st.integers(0, 12), st.integers(0, 10**12)).map(lambda n: f"@{n}")
contract_ids = st.one_of(st.sampled_from(REGISTERED), st.integers(0, 2**32 - 1))

scalars = st.one_of(
    st.none(), st.booleans(), ints, floats, texts, st.binary(max_size=10), handles,
)


def _containers(children):
    fields = st.dictionaries(field_keys, children, min_size=1, max_size=4)
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(idents, children, max_size=4),  # records ({} included)
        fields,
        st.tuples(contract_ids, st.one_of(st.just({}), fields)).map(lambda t: {t[0]: t[1]}),
    )


def values(max_leaves: int = 20):
    """Random HLX values (not necessarily normalized: NFD texts, -0.0, unsorted keys)."""
    return st.recursive(scalars, _containers, max_leaves=max_leaves)


def operations():
    """Operation (1000) requests like the corpus: {1000: {"@0": verb, "@1": &h_noun, ...}}."""
    verbs = st.sampled_from(["search", "filter", "read", "write", "sort", "limit", "copy", "move",
                             "transform", "aggregate", "navigate", "rename", "skip", "append"])
    nouns = st.sampled_from(["documents", "users", "results", "database", "files", "logs", "list"])
    args = st.one_of(nouns.map(lambda n: "&h_" + n), st.sampled_from(["error", "config.json", "*.py", "name"]),
                     st.integers(0, 1000))
    return st.tuples(verbs, st.lists(args, min_size=1, max_size=3)).map(
        lambda t: {1000: {"@0": t[0], **{f"@{i + 1}": a for i, a in enumerate(t[1])}}}
    )
