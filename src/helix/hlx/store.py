"""The content-addressed store behind HLX-LS (spec §9): an in-memory and a SQLite backend.

Handles
-------
``handle_for(value, tag=None)`` is ``&h_<tag>_<64 hex>``: the BLAKE2b-256 digest of the value's
LC-B bytes, tagged by default with the value's type (``null bool int float text bytes array
object`` or ``contract<id>``). A handle given as the value is returned unchanged (INV-002).
``resolve`` finds a value by the digest only (the tag is a hint), re-hashes the stored bytes
(``E_HASH_MISMATCH`` if they were altered) and decodes them. Symbolic handles (``&h_documents``)
resolve only where ``bind(handle, value)`` bound them, else ``E_HANDLE_NOT_FOUND``.
Checkpoints returned by ``snapshot()`` are handles too: ``&h_checkpoint_<n>``.

Design: one append-only log
---------------------------
Both backends keep the same three things, and share every rule (the backends only differ in
where the rows live, so they behave identically):

* ``log``: rows ``(seq, kind, key, digest, data)`` with increasing ``seq``. A *value* row
  (kind 0) has ``key`` = the hex digest and is written once per distinct value (collapsing a
  stored value again writes nothing). A *binding* row (kind 1) has ``key`` = the symbolic handle,
  ``digest`` = the digest of ``data``; the newest row of a handle is its binding (rebinding
  appends a row, so rolling back restores the older binding).
* ``snapshots``: ``id -> seq``, the log position a checkpoint stands for. Ids are never reused
  (SQLite ``AUTOINCREMENT``), except that a failed transaction takes back the ids it handed out.
* ``rollback(cp)`` deletes every log row and every snapshot with ``seq`` greater than the
  checkpoint's. So every live snapshot always has ``seq <=`` the newest row, checkpoints taken
  after ``cp`` are gone (``E_HANDLE_NOT_FOUND``), and ``cp`` itself stays usable.

Transactions
------------
``transaction(fn)`` runs ``fn()``; if it raises (anything), every write made inside is undone
and the exception re-raised. In SQLite an HLX transaction is exactly one SQL transaction
(``BEGIN IMMEDIATE`` … ``COMMIT``; nested ones are ``SAVEPOINT``\\ s), so a process killed in
the middle leaves the database in its pre-transaction state (WAL journal, or the rollback
journal where WAL is unavailable). Outside a transaction every operation is atomic on its own.
Inside a transaction, ``rollback`` to a checkpoint older than the transaction's start is refused
with ``E_TRANSACTION_FAILED`` (it would undo writes the transaction does not own).

``verify()`` re-hashes and decodes every row and returns the problems found (an empty list for a
sound store). ``stats()`` gives counts. Both stores are safe to share between threads (one lock
per store; a transaction holds it until it ends).
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from helix.hlx import lcb
from helix.hlx.errors import HLXError
from helix.hlx.value import HANDLE_PREFIX, HANDLE_RE, Value, normalize, type_tag

__all__ = [
    "handle_for", "digest_of", "MemoryStore", "SQLiteStore", "open_store", "default_store_path",
    "StoreError", "is_checkpoint", "CONTENT_HANDLE_RE", "CHECKPOINT_RE",
]

TAG_RE = re.compile(r"[A-Za-z0-9_]+\Z")
CONTENT_HANDLE_RE = re.compile(r"&h_([A-Za-z0-9_]+)_([0-9a-f]{64})\Z")
CHECKPOINT_RE = re.compile(r"&h_checkpoint_([1-9][0-9]{0,17})\Z")

VALUE, BINDING = 0, 1


class StoreError(RuntimeError):
    """The store itself cannot be used (not a database, unreadable file, ...)."""


def digest_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def _encode(value: Value, tag: str | None) -> tuple[str, str, bytes]:
    """(tag, hex digest, LC-B bytes) of a value that is not a handle."""
    v = normalize(value)
    if tag is None:
        tag = type_tag(v)
    elif not isinstance(tag, str) or TAG_RE.match(tag) is None:
        raise HLXError("E_HANDLE_FORMAT",
                       f"collapse tag {str(tag)[:40]!r} must be letters, digits or _")
    data = lcb.dumps(v, normalized=True)
    return tag, digest_of(data), data


def handle_for(value: Value, tag: str | None = None) -> str:
    """The handle ``collapse(value, tag)`` returns, without storing anything."""
    if isinstance(value, str) and value.startswith(HANDLE_PREFIX):
        if HANDLE_RE.match(value) is None:
            raise HLXError("E_HANDLE_FORMAT", f"malformed handle {value[:80]!r}")
        return value
    tag, digest, _ = _encode(value, tag)
    return f"&h_{tag}_{digest}"


def is_checkpoint(v: object) -> bool:
    return isinstance(v, str) and CHECKPOINT_RE.match(v) is not None


def default_store_path() -> Path:
    """``platformdirs.user_data_dir("helix")/store.sqlite``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("helix")) / "store.sqlite"


class _Store:
    """Every rule of the store; subclasses provide row storage."""

    backend = "?"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._txn_starts: list[int] = []  # log seq at the start of each open transaction

    # ------------------------------------------------------------------ backend primitives
    def _get_value(self, digest: str) -> bytes | None: raise NotImplementedError
    def _get_binding(self, handle: str) -> tuple[str, bytes] | None: raise NotImplementedError
    def _append(self, kind: int, key: str, digest: str, data: bytes) -> None:
        raise NotImplementedError
    def _last_seq(self) -> int: raise NotImplementedError
    def _truncate(self, seq: int) -> None: raise NotImplementedError
    def _new_snapshot(self, seq: int) -> int: raise NotImplementedError
    def _snapshot_seq(self, sid: int) -> int | None: raise NotImplementedError
    def _begin(self) -> None: raise NotImplementedError
    def _commit(self) -> None: raise NotImplementedError
    def _abort(self) -> None: raise NotImplementedError
    def _rows(self) -> Iterable[tuple]: raise NotImplementedError
    def _counts(self) -> dict: raise NotImplementedError

    def _atomic(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` as one unit of work (a nested transaction when one is open)."""
        self._begin()
        try:
            out = fn()
        except BaseException:
            self._abort()
            raise
        self._commit()
        return out

    # ------------------------------------------------------------------------------ API
    def collapse(self, value: Value, tag: str | None = None) -> str:
        """Store ``value``; return its handle (a handle is returned unchanged)."""
        if isinstance(value, str) and value.startswith(HANDLE_PREFIX):
            return handle_for(value)
        tag, digest, data = _encode(value, tag)
        with self._lock:
            if self._get_value(digest) is None:
                self._append(VALUE, digest, digest, data)
        return f"&h_{tag}_{digest}"

    def _check(self, handle: str, digest: str, data: bytes) -> Value:
        if digest_of(data) != digest:
            raise HLXError("E_HASH_MISMATCH",
                           f"stored bytes of {handle[:90]} no longer match their hash")
        return lcb.loads(data)

    def resolve(self, handle: str) -> Value:
        """The value behind ``handle`` (re-hashed: altered bytes -> ``E_HASH_MISMATCH``)."""
        if not (isinstance(handle, str) and handle.startswith(HANDLE_PREFIX)):
            raise HLXError("E_TYPE_MISMATCH", f"resolve needs a handle, got {_kind(handle)}")
        if HANDLE_RE.match(handle) is None:
            raise HLXError("E_HANDLE_FORMAT", f"malformed handle {handle[:80]!r}")
        m = CONTENT_HANDLE_RE.match(handle)
        with self._lock:
            if m is not None:
                data = self._get_value(m.group(2))
                if data is not None:
                    return self._check(handle, m.group(2), data)
            else:
                b = self._get_binding(handle)
                if b is not None:
                    return self._check(handle, b[0], b[1])
        raise HLXError("E_HANDLE_NOT_FOUND", f"{handle[:90]} is not in the store")

    def bind(self, handle: str, value: Value) -> None:
        """Make the symbolic ``handle`` resolve to ``value`` (rebinding replaces it)."""
        if not (isinstance(handle, str) and handle.startswith(HANDLE_PREFIX)):
            raise HLXError("E_TYPE_MISMATCH", f"bind needs a handle, got {_kind(handle)}")
        if HANDLE_RE.match(handle) is None:
            raise HLXError("E_HANDLE_FORMAT", f"malformed handle {handle[:80]!r}")
        if CONTENT_HANDLE_RE.match(handle) or CHECKPOINT_RE.match(handle):
            raise HLXError("E_TYPE_MISMATCH",
                           f"{handle[:90]} is a content handle or a checkpoint; only symbolic "
                           "handles can be bound")
        v = normalize(value)
        data = lcb.dumps(v, normalized=True)
        digest = digest_of(data)
        with self._lock:
            cur = self._get_binding(handle)
            if cur is None or cur[0] != digest:
                self._append(BINDING, handle, digest, data)

    def snapshot(self) -> str:
        """A checkpoint (``&h_checkpoint_<n>``) of the store as it is now."""
        with self._lock:
            return f"&h_checkpoint_{self._atomic(lambda: self._new_snapshot(self._last_seq()))}"

    def rollback(self, checkpoint: str) -> None:
        """Undo every write made after ``checkpoint`` was taken."""
        m = CHECKPOINT_RE.match(checkpoint) if isinstance(checkpoint, str) else None
        if m is None:
            raise HLXError("E_TYPE_MISMATCH",
                           f"rollback needs a checkpoint from snapshot(), got {_kind(checkpoint)}")
        with self._lock:
            seq = self._snapshot_seq(int(m.group(1)))
            if seq is None:
                raise HLXError("E_HANDLE_NOT_FOUND",
                               f"checkpoint {checkpoint} does not exist (never taken, or undone "
                               "by an earlier rollback or a failed transaction)")
            if self._txn_starts and seq < self._txn_starts[-1]:
                raise HLXError("E_TRANSACTION_FAILED",
                               f"cannot roll back to {checkpoint} inside a transaction that "
                               "started after it")
            self._atomic(lambda: self._truncate(seq))

    def transaction(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` atomically: if it raises, undo its writes and re-raise."""
        if not callable(fn):
            raise HLXError("E_TYPE_MISMATCH", "transaction needs a function")
        with self._lock:
            return self._atomic(fn)

    def verify(self) -> list[dict]:
        """Re-hash and decode every stored row; one dict per problem (``[]``: sound)."""
        problems = []
        with self._lock:
            for seq, kind, key, digest, data in self._rows():
                what = "value" if kind == VALUE else "binding"
                if kind == VALUE and key != digest:
                    problems.append({"code": "E_HASH_MISMATCH", "seq": seq, "key": key,
                                     "message": f"{what} row keyed {key} records digest "
                                                f"{digest}"})
                    continue
                if digest_of(bytes(data)) != digest:
                    problems.append({"code": "E_HASH_MISMATCH", "seq": seq, "key": key,
                                     "message": f"stored bytes of {what} {key} no longer match "
                                                "their hash"})
                    continue
                try:
                    lcb.loads(bytes(data))
                except HLXError as e:
                    problems.append({"code": e.code, "seq": seq, "key": key,
                                     "message": f"{what} {key}: {e.message}"})
        return problems

    def stats(self) -> dict:
        """``backend``, ``path``, ``values``, ``bindings``, ``rows``, ``bytes``, ``snapshots``,
        ``seq`` (the newest log position)."""
        with self._lock:
            d = {"backend": self.backend, "path": getattr(self, "path", None)}
            d.update(self._counts())
            d["seq"] = self._last_seq()
        return d

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _kind(v: object) -> str:
    try:
        return type_tag(v)
    except HLXError:
        return type(v).__name__


# ====================================================================================== memory


class MemoryStore(_Store):
    """The in-memory backend (a process-local log; nothing touches the disk)."""

    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        self._log: list[tuple] = []  # (seq, kind, key, digest, data)
        self._values: dict[str, bytes] = {}
        self._bindings: dict[str, list[tuple]] = {}  # handle -> [(seq, digest, data)]
        self._snaps: dict[int, int] = {}
        self._next_snap = 1
        self._marks: list[tuple[int, int]] = []  # (seq, next snapshot id) per open transaction
        self.path = None

    def _get_value(self, digest):
        return self._values.get(digest)

    def _get_binding(self, handle):
        rows = self._bindings.get(handle)
        if not rows:
            return None
        _, digest, data = rows[-1]
        return digest, data

    def _append(self, kind, key, digest, data):
        seq = self._last_seq() + 1
        self._log.append((seq, kind, key, digest, data))
        if kind == VALUE:
            self._values[key] = data
        else:
            self._bindings.setdefault(key, []).append((seq, digest, data))

    def _last_seq(self):
        return self._log[-1][0] if self._log else 0

    def _truncate(self, seq):
        log = self._log
        while log and log[-1][0] > seq:
            _, kind, key, _, _ = log.pop()
            if kind == VALUE:
                del self._values[key]
            else:
                rows = self._bindings[key]
                rows.pop()
                if not rows:
                    del self._bindings[key]
        for sid in [s for s, q in self._snaps.items() if q > seq]:
            del self._snaps[sid]

    def _new_snapshot(self, seq):
        sid = self._next_snap
        self._next_snap += 1
        self._snaps[sid] = seq
        return sid

    def _snapshot_seq(self, sid):
        return self._snaps.get(sid)

    def _begin(self):
        self._marks.append((self._last_seq(), self._next_snap))
        self._txn_starts.append(self._last_seq())

    def _commit(self):
        self._marks.pop()
        self._txn_starts.pop()

    def _abort(self):
        seq, next_snap = self._marks.pop()
        self._txn_starts.pop()
        self._truncate(seq)
        for sid in [s for s in self._snaps if s >= next_snap]:
            del self._snaps[sid]
        self._next_snap = next_snap

    def _rows(self):
        return list(self._log)

    def _counts(self):
        return {"values": len(self._values), "bindings": len(self._bindings),
                "rows": len(self._log), "bytes": sum(len(r[4]) for r in self._log),
                "snapshots": len(self._snaps)}


# ====================================================================================== sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (
    seq    INTEGER PRIMARY KEY,
    kind   INTEGER NOT NULL,
    key    TEXT NOT NULL,
    digest TEXT NOT NULL,
    data   BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS log_value ON log(key) WHERE kind = 0;
CREATE INDEX IF NOT EXISTS log_key ON log(key, seq);
CREATE TABLE IF NOT EXISTS snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL);
"""
SCHEMA_VERSION = "1"


class SQLiteStore(_Store):
    """The persistent backend: one SQLite file (WAL journal where the file system allows).

    ``synchronous`` is SQLite's setting: ``"FULL"`` (default) also survives power loss;
    ``"NORMAL"`` survives a killed process (what the transaction guarantee needs) and is faster.
    """

    backend = "sqlite"

    def __init__(self, path: str | os.PathLike, *, synchronous: str = "FULL",
                 timeout: float = 30.0) -> None:
        super().__init__()
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"bad synchronous setting {synchronous!r}")
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._depth = 0
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open store {self.path}: {e}") from None
        try:
            db = self._db
            db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self.journal_mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)",
                       (SCHEMA_VERSION,))
            ver = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
        except sqlite3.Error as e:
            self._db.close()
            raise StoreError(f"{self.path} is not a usable Helix store: {e}") from None
        if ver != SCHEMA_VERSION:
            self._db.close()
            raise StoreError(f"{self.path} has store schema {ver}, expected {SCHEMA_VERSION}")

    def _q(self, sql: str, args: tuple = ()):
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as e:
            raise StoreError(f"store {self.path}: {e}") from None

    def _get_value(self, digest):
        row = self._q("SELECT data FROM log WHERE key = ? AND kind = 0", (digest,)).fetchone()
        return None if row is None else bytes(row[0])

    def _get_binding(self, handle):
        row = self._q("SELECT digest, data FROM log WHERE key = ? AND kind = 1 "
                      "ORDER BY seq DESC LIMIT 1", (handle,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def _append(self, kind, key, digest, data):
        sql = ("INSERT OR IGNORE INTO log(kind, key, digest, data) VALUES (?, ?, ?, ?)"
               if kind == VALUE else
               "INSERT INTO log(kind, key, digest, data) VALUES (?, ?, ?, ?)")
        self._q(sql, (kind, key, digest, sqlite3.Binary(data)))

    def _last_seq(self):
        return self._q("SELECT COALESCE(MAX(seq), 0) FROM log").fetchone()[0]

    def _truncate(self, seq):
        self._q("DELETE FROM log WHERE seq > ?", (seq,))
        self._q("DELETE FROM snapshots WHERE seq > ?", (seq,))

    def _new_snapshot(self, seq):
        return self._q("INSERT INTO snapshots(seq) VALUES (?)", (seq,)).lastrowid

    def _snapshot_seq(self, sid):
        row = self._q("SELECT seq FROM snapshots WHERE id = ?", (sid,)).fetchone()
        return None if row is None else row[0]

    def _begin(self):
        if self._depth == 0:
            self._q("BEGIN IMMEDIATE")
        else:
            self._q(f"SAVEPOINT hlx_sp{self._depth}")
        self._depth += 1
        self._txn_starts.append(self._last_seq())

    def _commit(self):
        self._depth -= 1
        self._txn_starts.pop()
        try:
            if self._depth == 0:
                self._db.execute("COMMIT")
            else:
                self._db.execute(f"RELEASE hlx_sp{self._depth}")
        except sqlite3.Error as e:
            self._depth += 1
            self._txn_starts.append(0)
            self._abort()
            raise HLXError("E_TRANSACTION_FAILED", f"commit failed, nothing written: {e}") \
                from None

    def _abort(self):
        self._depth -= 1
        self._txn_starts.pop()
        try:
            if self._depth == 0:
                self._db.execute("ROLLBACK")
            else:
                self._db.execute(f"ROLLBACK TO hlx_sp{self._depth}")
                self._db.execute(f"RELEASE hlx_sp{self._depth}")
        except sqlite3.Error as e:  # pragma: no cover - the connection is broken
            raise HLXError("E_TRANSACTION_FAILED", f"could not undo the transaction: {e}") \
                from None

    def _rows(self):
        return self._q("SELECT seq, kind, key, digest, data FROM log ORDER BY seq").fetchall()

    def _counts(self):
        values = self._q("SELECT COUNT(*) FROM log WHERE kind = 0").fetchone()[0]
        bindings = self._q("SELECT COUNT(DISTINCT key) FROM log WHERE kind = 1").fetchone()[0]
        rows, size = self._q("SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM log").fetchone()
        snaps = self._q("SELECT COUNT(*) FROM snapshots").fetchone()[0]
        return {"values": values, "bindings": bindings, "rows": rows, "bytes": size,
                "snapshots": snaps}

    def close(self) -> None:
        with self._lock:
            db = getattr(self, "_db", None)
            if db is not None:
                if self._depth:
                    db.execute("ROLLBACK")
                    self._depth = 0
                db.close()
                self._db = None


def open_store(path: str | os.PathLike | None = None, **kw) -> _Store:
    """``None`` -> a new :class:`MemoryStore`; a path -> :class:`SQLiteStore` there."""
    if path is None:
        return MemoryStore()
    return SQLiteStore(path, **kw)
