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

Integrity
---------
In SQLite every log row also carries ``chain``, the BLAKE2b-256 of the previous row's chain and
the row's ``seq, kind, key, digest``, and ``meta`` records the newest row as ``head``; a row
and the head are written in one SQL transaction (schema 2; a schema-1 store is upgraded when it
is opened for writing, read as it is otherwise). ``verify()`` checks the whole log: types,
``kind``, keys, every digest and LC-B decoding, ``seq`` without gaps, the chain, the head and
the snapshots, and returns the problems found (an empty list for a sound store). A row of the
wrong type (text where bytes belong) is ``E_HASH_MISMATCH`` on ``resolve`` too.

Opening: a writable open creates the file where there is none (or an empty database) and refuses
any other SQLite database without touching it; ``SQLiteStore(path, readonly=True)`` opens with
SQLite ``mode=ro``, creates nothing, and fails on a missing file. ``stats()`` gives counts. Both stores are safe to share between threads (one lock
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


def chain_next(prev: str, seq: int, kind: int, key: str, digest: str) -> str:
    """The chain hash of a log row: BLAKE2b-256 over the previous row's chain and this row's
    ``seq``, ``kind``, ``key`` and ``digest`` (``data`` is covered by ``digest``)."""
    h = hashlib.blake2b(digest_size=32)
    h.update(f"{prev}\n{seq}\n{kind}\n{key}\n{digest}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


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

    def _chain_rows(self):
        """``[(seq, chain)]`` in log order, or None where the backend keeps no chain."""
        return None

    def _head(self):
        """``"seq:chain"`` of the newest row as recorded apart from the log, or None."""
        return None

    def _snapshot_rows(self) -> list[tuple]:
        raise NotImplementedError

    def verify(self) -> list[dict]:
        """Check the whole log; one dict per problem (``[]``: sound).

        Every row: the right types, a possible ``kind``, a well-formed key, bytes that still
        match their digest and decode as LC-B. The log as a whole: ``seq`` runs 1, 2, 3, ...
        without a gap (a deleted row), each row's chain hash follows from the one before
        (a row changed, inserted or deleted), the recorded head is the newest row (rows deleted
        at the end), and no snapshot points past the end of the log.
        """
        problems: list[dict] = []

        def bad(code, seq, key, message):
            problems.append({"code": code, "seq": seq, "key": key, "message": message})

        with self._lock:
            rows = self._rows()
            chains = self._chain_rows()
            head = self._head()
            snaps = self._snapshot_rows()
        expect = 1
        for seq, kind, key, digest, data in rows:
            if not isinstance(seq, int) or isinstance(seq, bool):
                bad("E_HASH_MISMATCH", seq, key, f"row with seq {seq!r} of the wrong type")
                continue
            if seq != expect:
                gap = f"row {expect} is" if seq == expect + 1 else f"rows {expect} to {seq - 1} are"
                bad("E_HASH_MISMATCH", seq, key,
                    f"log {gap} missing (deleted from the log)" if seq > expect else
                    f"log row {seq} is out of order")
            expect = max(expect, seq) + 1
            if kind not in (VALUE, BINDING) or isinstance(kind, bool):
                bad("E_HASH_MISMATCH", seq, key, f"row {seq} has an impossible kind {kind!r} "
                                                 "(0 value, 1 binding)")
                continue
            what = "value" if kind == VALUE else "binding"
            typed = [(n, v) for n, v, t in (("key", key, str), ("digest", digest, str),
                                            ("data", data, bytes)) if not isinstance(v, t)]
            if typed:
                n, v = typed[0]
                bad("E_HASH_MISMATCH", seq, key if isinstance(key, str) else None,
                    f"{what} row {seq}: its {n} is {_sql_type(v)} (the row was altered)")
                continue
            if kind == VALUE and key != digest:
                bad("E_HASH_MISMATCH", seq, key, f"{what} row keyed {key} records digest {digest}")
                continue
            if kind == BINDING and (HANDLE_RE.match(key) is None or CONTENT_HANDLE_RE.match(key)
                                    or CHECKPOINT_RE.match(key)):
                bad("E_HANDLE_FORMAT", seq, key, f"binding row {seq} binds {key[:90]!r}, which "
                                                 "is not a symbolic handle")
                continue
            if digest_of(data) != digest:
                bad("E_HASH_MISMATCH", seq, key,
                    f"stored bytes of {what} {key} no longer match their hash")
                continue
            try:
                lcb.loads(data)
            except HLXError as e:
                bad(e.code, seq, key, f"{what} {key}: {e.message}")
        if chains is not None:
            info = {r[0]: r for r in rows}
            prev = ""
            for seq, chain in chains:
                r = info.get(seq)
                want = chain_next(prev, *r[:4]) if r is not None else None
                if chain != want:
                    bad("E_HASH_MISMATCH", seq, None,
                        f"the log's hash chain breaks at row {seq} (a row before it, or the "
                        "row itself, was changed, inserted or deleted)")
                prev = chain if isinstance(chain, str) else ""
            tail = f"{chains[-1][0]}:{chains[-1][1]}" if chains else None
            if head is not None and (head or None) != tail and not (head == "0:" and not chains):
                bad("E_HASH_MISMATCH", None, None,
                    f"the log ends at row {chains[-1][0] if chains else 0} but its head records "
                    f"row {head.split(':', 1)[0] or '?'} (rows deleted at the end of the log)")
        last = rows[-1][0] if rows and isinstance(rows[-1][0], int) else 0
        for sid, sseq in snaps:
            if not isinstance(sseq, int) or sseq < 0 or sseq > last:
                bad("E_HASH_MISMATCH", None, None,
                    f"checkpoint {sid} points at log row {sseq!r}, past the end of the log "
                    f"({last})")
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

    def _snapshot_rows(self):
        return sorted(self._snaps.items())

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
    data   BLOB NOT NULL,
    chain  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS log_value ON log(key) WHERE kind = 0;
CREATE INDEX IF NOT EXISTS log_key ON log(key, seq);
CREATE TABLE IF NOT EXISTS snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL);
"""
# 1: the log without a chain; 2: every row carries ``chain`` and meta ``head`` names the last one.
SCHEMA_VERSION = "2"
_READABLE_SCHEMAS = ("1", "2")
_HELIX_TABLES = frozenset({"meta", "log", "snapshots"})


def _sqlite_uri(path: Path, params: str) -> str:
    from urllib.parse import quote

    return f"file:{quote(str(path.resolve()), safe='/')}?{params}"


def _is_wal_file(path: Path) -> bool:
    """Whether the database header says WAL (bytes 18-19 are 2 in WAL mode)."""
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError:
        return False
    return len(head) == 20 and head[:16] == b"SQLite format 3\x00" and head[18] == 2


class SQLiteStore(_Store):
    """The persistent backend: one SQLite file (WAL journal where the file system allows).

    ``synchronous`` is SQLite's setting: ``"FULL"`` (default) also survives power loss;
    ``"NORMAL"`` survives a killed process (what the transaction guarantee needs) and is faster.

    ``readonly=True`` opens an existing store for reading only (SQLite ``mode=ro``): a missing
    file is a :class:`StoreError`, nothing is created or changed -- no folder, no table, no
    journal mode, no ``-wal``/``-shm`` file -- and a file without write permission can be read
    and verified. A writable open creates a new store where there is no file (or an empty one),
    and refuses an SQLite file that is not a Helix store instead of adding tables to it.
    """

    backend = "sqlite"

    def __init__(self, path: str | os.PathLike, *, synchronous: str = "FULL",
                 timeout: float = 30.0, readonly: bool = False) -> None:
        super().__init__()
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"bad synchronous setting {synchronous!r}")
        self.path = str(path)
        self.readonly = bool(readonly)
        self._depth = 0
        self._db = None
        p = Path(self.path)
        if p.is_dir():
            raise StoreError(f"store {self.path} is a folder, not a store file")
        if self.readonly:
            self._open_readonly(p, timeout)
        else:
            self._open_writable(p, synchronous, timeout)

    # ------------------------------------------------------------------------------ opening
    def _connect(self, target: str, timeout: float, uri: bool) -> None:
        try:
            self._db = sqlite3.connect(target, timeout=timeout, isolation_level=None,
                                       check_same_thread=False, uri=uri)
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        except sqlite3.Error as e:
            if self._db is not None:
                self._db.close()
                self._db = None
            raise StoreError(f"cannot open store {self.path}: {e}") from None

    def _fail(self, msg: str):
        if self._db is not None:
            self._db.close()
            self._db = None
        raise StoreError(msg)

    def _tables(self) -> set:
        rows = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return {r[0] for r in rows}

    def _schema(self, tables: set) -> str:
        """The Helix schema version of the open file; StoreError if it is not a Helix store."""
        if not _HELIX_TABLES <= tables:
            names = ", ".join(sorted(tables)[:8]) or "none"
            self._fail(f"{self.path} is an SQLite database but not a Helix store (its tables: "
                       f"{names}); it was left unchanged")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        ver = None if row is None else row[0]
        if ver not in _READABLE_SCHEMAS:
            self._fail(f"{self.path} has store schema {ver!r}, expected one of "
                       f"{', '.join(_READABLE_SCHEMAS)}")
        return ver

    def _open_readonly(self, p: Path, timeout: float) -> None:
        if not p.is_file():
            raise StoreError(f"no store at {self.path} (a read-only command never creates one)")
        # A WAL database with no -wal file holds everything in the main file; opening it with
        # mode=ro alone would create -wal and -shm files beside it, so it is read as immutable.
        wal = Path(self.path + "-wal")
        params = "mode=ro&immutable=1" if _is_wal_file(p) and not wal.exists() else "mode=ro"
        self._connect(_sqlite_uri(p, params), timeout, uri=True)
        try:
            self.schema = self._schema(self._tables())
            self.journal_mode = self._db.execute("PRAGMA journal_mode").fetchone()[0]
        except sqlite3.Error as e:
            self._fail(f"{self.path} is not a usable Helix store: {e}")

    def _open_writable(self, p: Path, synchronous: str, timeout: float) -> None:
        p.parent.mkdir(parents=True, exist_ok=True)
        self._connect(self.path, timeout, uri=False)
        db = self._db
        try:
            tables = self._tables()
            if tables:  # an existing database: it must be a Helix store, or it is left alone
                ver = self._schema(tables)
            else:
                ver = None
            self.journal_mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            db.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            if ver is None:
                db.execute("BEGIN IMMEDIATE")
                if self._tables():  # another process created it meanwhile
                    db.execute("COMMIT")
                    ver = self._schema(self._tables())
                else:
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            db.execute(stmt)
                    db.execute("INSERT INTO meta(key, value) VALUES ('schema', ?)",
                               (SCHEMA_VERSION,))
                    db.execute("COMMIT")
                    ver = SCHEMA_VERSION
            if ver == "1":
                self._migrate_v1()
            self.schema = SCHEMA_VERSION
        except sqlite3.Error as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._fail(f"{self.path} is not a usable Helix store: {e}")

    def _migrate_v1(self) -> None:
        """Schema 1 -> 2 in one transaction: add the chain column and chain the existing rows."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            ver = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
            if ver == "1":
                cols = {r[1] for r in db.execute("PRAGMA table_info(log)")}
                if "chain" not in cols:
                    db.execute("ALTER TABLE log ADD COLUMN chain TEXT")
                prev, last = "", 0
                for seq, kind, key, digest in db.execute(
                        "SELECT seq, kind, key, digest FROM log ORDER BY seq").fetchall():
                    prev = chain_next(prev, seq, kind, key, digest)
                    db.execute("UPDATE log SET chain = ? WHERE seq = ?", (prev, seq))
                    last = seq
                self._set_head(last, prev)
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------------------ rows
    def _q(self, sql: str, args: tuple = ()):
        if self._db is None:
            raise StoreError(f"store {self.path} is closed")
        try:
            return self._db.execute(sql, args)
        except sqlite3.Error as e:
            if self.readonly and "readonly" in str(e).replace("-", ""):
                raise StoreError(f"store {self.path} was opened read-only: {e}") from None
            raise StoreError(f"store {self.path}: {e}") from None

    def _blob(self, data, what: str) -> bytes:
        if not isinstance(data, bytes):
            raise HLXError("E_HASH_MISMATCH",
                           f"stored {what} is {_sql_type(data)}, not bytes (the row was altered)")
        return data

    def _get_value(self, digest):
        row = self._q("SELECT data FROM log WHERE key = ? AND kind = 0", (digest,)).fetchone()
        return None if row is None else self._blob(row[0], f"value {digest[:16]}")

    def _get_binding(self, handle):
        row = self._q("SELECT digest, data FROM log WHERE key = ? AND kind = 1 "
                      "ORDER BY seq DESC LIMIT 1", (handle,)).fetchone()
        if row is None:
            return None
        if not isinstance(row[0], str):
            raise HLXError("E_HASH_MISMATCH", f"stored digest of {handle[:90]} is "
                                              f"{_sql_type(row[0])}, not text (the row was altered)")
        return row[0], self._blob(row[1], f"binding {handle[:90]}")

    def _set_head(self, seq: int, chain: str) -> None:
        self._q("INSERT OR REPLACE INTO meta(key, value) VALUES ('head', ?)", (f"{seq}:{chain}",))

    def _tail(self) -> tuple[int, str]:
        row = self._q("SELECT seq, chain FROM log ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return 0, ""
        return row[0], row[1] if isinstance(row[1], str) else ""

    def _append(self, kind, key, digest, data):
        def write():
            last, prev = self._tail()
            seq = last + 1
            chain = chain_next(prev, seq, kind, key, digest)
            sql = ("INSERT OR IGNORE INTO log(seq, kind, key, digest, data, chain) "
                   "VALUES (?, ?, ?, ?, ?, ?)" if kind == VALUE else
                   "INSERT INTO log(seq, kind, key, digest, data, chain) VALUES (?, ?, ?, ?, ?, ?)")
            if self._q(sql, (seq, kind, key, digest, sqlite3.Binary(data), chain)).rowcount:
                self._set_head(seq, chain)

        self._atomic(write)  # the row and the head move together (one SQL transaction)

    def _last_seq(self):
        return self._q("SELECT COALESCE(MAX(seq), 0) FROM log").fetchone()[0]

    def _truncate(self, seq):
        self._q("DELETE FROM log WHERE seq > ?", (seq,))
        self._q("DELETE FROM snapshots WHERE seq > ?", (seq,))
        last, chain = self._tail()
        self._set_head(last, chain)

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

    def _chain_rows(self):
        if self.schema == "1":
            return None
        return self._q("SELECT seq, chain FROM log ORDER BY seq").fetchall()

    def _head(self):
        if self.schema == "1":
            return None
        row = self._q("SELECT value FROM meta WHERE key = 'head'").fetchone()
        return "" if row is None else row[0]

    def _snapshot_rows(self):
        return self._q("SELECT id, seq FROM snapshots ORDER BY id").fetchall()

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


def _sql_type(v: object) -> str:
    return {str: "text", int: "an integer", float: "a real", type(None): "NULL",
            bytes: "a blob"}.get(type(v), type(v).__name__)


def open_store(path: str | os.PathLike | None = None, **kw) -> _Store:
    """``None`` -> a new :class:`MemoryStore`; a path -> :class:`SQLiteStore` there."""
    if path is None:
        return MemoryStore()
    return SQLiteStore(path, **kw)
