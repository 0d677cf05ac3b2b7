"""helix.hlx -- the HLX language core (pure Python, never imports torch).

Public API (see docs/CONVENTIONS.md)::

    HLXError, normalize, values_equal,
    encode(value, fmt) -> str, decode(text, fmt) -> value, convert(text, src, dst) -> str,
    detect_form(text) -> str | None, is_valid_prefix(text, fmt) -> bool, is_complete(text, fmt),
    MemoryStore, SQLiteStore, open_store(path_or_None), run_program(text, lang, store),
    collapse, resolve, snapshot, rollback, transaction, REGISTRY, validate_contracts.

The value forms and the dispatch are imported eagerly; the store, programs and contract names
are resolved on first use (PEP 562), so this package stays importable, and cheap to import,
whatever those modules need.
"""

from __future__ import annotations

from helix.hlx.convert import (
    FORMS,
    PROGRAM_FORMS,
    VALUE_FORMS,
    convert,
    decode,
    detect_form,
    encode,
    encode_all,
    is_complete,
    read_error,
)
from helix.hlx.errors import CODES, HLXError
from helix.hlx.prefix import is_valid_prefix
from helix.hlx.lcb import values_equal
from helix.hlx.value import normalize

# name -> (module, attribute) resolved lazily
_LAZY = {
    "MemoryStore": ("helix.hlx.store", "MemoryStore"),
    "SQLiteStore": ("helix.hlx.store", "SQLiteStore"),
    "open_store": ("helix.hlx.store", "open_store"),
    "run_program": ("helix.hlx.hlxls", "run_program"),
    "collapse": ("helix.hlx.hlxls", "collapse"),
    "resolve": ("helix.hlx.hlxls", "resolve"),
    "snapshot": ("helix.hlx.hlxls", "snapshot"),
    "rollback": ("helix.hlx.hlxls", "rollback"),
    "transaction": ("helix.hlx.hlxls", "transaction"),
    "REGISTRY": ("helix.hlx.contracts", "REGISTRY"),
    "validate_contracts": ("helix.hlx.contracts", "validate"),
}


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'helix.hlx' has no attribute {name!r}")
    import importlib

    mod = importlib.import_module(target[0])
    value = getattr(mod, target[1])
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CODES",
    "FORMS",
    "HLXError",
    "PROGRAM_FORMS",
    "VALUE_FORMS",
    "convert",
    "decode",
    "detect_form",
    "encode",
    "encode_all",
    "is_complete",
    "read_error",
    "is_valid_prefix",
    "normalize",
    "values_equal",
    *_LAZY,
]
