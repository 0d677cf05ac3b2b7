"""The content-addressed store (spec §9): one suite, run against both backends."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helix.hlx import lcb
from helix.hlx.errors import HLXError
from helix.hlx.program import same_value
from helix.hlx.store import (
    MemoryStore, SQLiteStore, StoreError, default_store_path, handle_for, open_store,
)

REPO = Path(__file__).resolve().parents[1]


def _vectors() -> list[dict]:
    for p in (REPO / "tests" / "data" / "vectors.jsonl",
              REPO.parent / "shared" / "conformance" / "vectors.jsonl"):
        if p.is_file():
            return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x]
    return []


VECTORS = _vectors()


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.sqlite",
                                                                    synchronous="NORMAL")
    yield s
    s.close()


def code_of(fn, *args) -> str:
    with pytest.raises(HLXError) as e:
        fn(*args)
    return e.value.code


SAMPLES = [None, True, False, 0, -1, 2**63 - 1, 0.5, "", "text", "caf\u00e9", b"", b"\x00\xff",
           [], [1, [2, [3]]], {}, {"a": 1, "b": [None]}, {"@0": 1, "@3": 2},
           {902: {"@0": "p", "@1": ["&h_vert"]}}, {803: {}}, "&h_symbolic_inside"]


# ------------------------------------------------------------------------------------ handles


@pytest.mark.skipif(not VECTORS, reason="conformance vectors not found")
def test_handle_for_matches_vectors():
    from helix.hlx import hlxform

    for vec in VECTORS:
        v = hlxform.loads(vec["hlx"])
        want = vec["handle"] if not (isinstance(v, str) and v.startswith("&h_")) else v
        assert handle_for(v) == want, vec["name"]


def test_handle_format():
    data = lcb.dumps([1, 2])
    digest = hashlib.blake2b(data, digest_size=32).hexdigest()
    assert handle_for([1, 2]) == f"&h_array_{digest}"
    assert handle_for([1, 2], "pair") == f"&h_pair_{digest}"
    assert handle_for({902: {}}).startswith("&h_contract902_")
    assert handle_for({"a": 1}).startswith("&h_object_")
    assert handle_for(None).startswith("&h_null_")
    assert handle_for(b"x").startswith("&h_bytes_")
    assert handle_for(-0.0) == handle_for(0.0)
    assert handle_for({"b": 1, "a": 2}) == handle_for({"a": 2, "b": 1})
    assert handle_for("&h_docs") == "&h_docs"  # a handle is its own handle
    assert code_of(handle_for, "&h_bad-x") == "E_HANDLE_FORMAT"
    assert code_of(handle_for, 1, "bad tag") == "E_HANDLE_FORMAT"
    assert code_of(handle_for, 1, "") == "E_HANDLE_FORMAT"
    assert code_of(handle_for, float("nan")) == "E_FLOAT_SPECIAL"


# ------------------------------------------------------------------------- collapse / resolve


def test_collapse_resolve_roundtrip(store):
    for v in SAMPLES:
        h = store.collapse(v)
        if isinstance(v, str) and v.startswith("&h_"):
            assert h == v  # INV-002
            continue
        assert h == handle_for(v)
        assert store.collapse(h) == h  # INV-002
        assert same_value(store.resolve(h), v)  # INV-001
    rows = store.stats()["rows"]
    for v in SAMPLES:
        store.collapse(v)
    assert store.stats()["rows"] == rows  # storing again writes nothing
    assert store.stats()["values"] == len(SAMPLES) - 1


def test_tag_is_a_hint(store):
    h = store.collapse({"k": 1}, "config")
    assert h.startswith("&h_config_")
    other = "&h_anything_" + h.rsplit("_", 1)[1]
    assert store.resolve(other) == {"k": 1}


def test_resolve_errors(store):
    assert code_of(store.resolve, "&h_int_" + "0" * 64) == "E_HANDLE_NOT_FOUND"
    assert code_of(store.resolve, "&h_documents") == "E_HANDLE_NOT_FOUND"
    assert code_of(store.resolve, 42) == "E_TYPE_MISMATCH"
    assert code_of(store.resolve, "plain text") == "E_TYPE_MISMATCH"
    assert code_of(store.resolve, "&h_bad-handle") == "E_HANDLE_FORMAT"
    assert code_of(store.collapse, {"a": float("inf")}) == "E_FLOAT_SPECIAL"
    assert code_of(store.collapse, "x" * (1 << 20)) == "E_SIZE_EXCEEDED"


def test_bind(store):
    store.bind("&h_documents", ["a", "b"])
    assert store.resolve("&h_documents") == ["a", "b"]
    cp = store.snapshot()
    store.bind("&h_documents", {"n": 2})
    assert store.resolve("&h_documents") == {"n": 2}
    store.rollback(cp)
    assert store.resolve("&h_documents") == ["a", "b"]  # the older binding is back
    assert code_of(store.bind, handle_for(1), 2) == "E_TYPE_MISMATCH"
    assert code_of(store.bind, cp, 2) == "E_TYPE_MISMATCH"
    assert code_of(store.bind, "docs", 2) == "E_TYPE_MISMATCH"
    assert code_of(store.bind, "&h_x-y", 2) == "E_HANDLE_FORMAT"


# ------------------------------------------------------------------------ snapshot / rollback


def test_snapshot_rollback(store):
    h1 = store.collapse(1)
    cp1 = store.snapshot()
    assert cp1.startswith("&h_checkpoint_")
    h2 = store.collapse(2)
    cp2 = store.snapshot()
    h3 = store.collapse(3)
    store.rollback(cp2)
    assert store.resolve(h2) == 2
    assert code_of(store.resolve, h3) == "E_HANDLE_NOT_FOUND"
    store.rollback(cp1)
    assert store.resolve(h1) == 1
    assert code_of(store.resolve, h2) == "E_HANDLE_NOT_FOUND"
    # cp2 was taken after cp1: rolled back past, so it is gone; cp1 stays usable
    assert code_of(store.rollback, cp2) == "E_HANDLE_NOT_FOUND"
    store.collapse(4)
    store.rollback(cp1)
    assert store.stats()["values"] == 1
    assert code_of(store.rollback, 42) == "E_TYPE_MISMATCH"
    assert code_of(store.rollback, "&h_documents") == "E_TYPE_MISMATCH"
    assert code_of(store.rollback, "&h_checkpoint_999") == "E_HANDLE_NOT_FOUND"


def test_value_stored_before_snapshot_survives_rollback(store):
    h = store.collapse("kept")
    cp = store.snapshot()
    assert store.collapse("kept") == h  # no new write
    store.rollback(cp)
    assert store.resolve(h) == "kept"


# ------------------------------------------------------------------------------ transactions


def test_transaction_commits(store):
    hs = store.transaction(lambda: [store.collapse(i) for i in range(5)])
    assert [store.resolve(h) for h in hs] == list(range(5))


def test_transaction_failure_undoes_everything(store):
    before = store.stats()
    keep = store.snapshot()

    class Boom(Exception):
        pass

    made = {}

    def body():
        made["h"] = store.collapse("inside")
        store.bind("&h_thing", 1)
        made["cp"] = store.snapshot()
        store.collapse("more")
        raise Boom()

    with pytest.raises(Boom):  # the original exception comes back out
        store.transaction(body)
    after = store.stats()
    assert {k: after[k] for k in ("values", "bindings", "rows", "seq")} == \
        {k: before[k] for k in ("values", "bindings", "rows", "seq")}
    assert code_of(store.resolve, made["h"]) == "E_HANDLE_NOT_FOUND"
    assert code_of(store.resolve, "&h_thing") == "E_HANDLE_NOT_FOUND"
    assert code_of(store.rollback, made["cp"]) == "E_HANDLE_NOT_FOUND"
    store.rollback(keep)  # checkpoints from before the transaction still work
    assert store.verify() == []


def test_nested_transactions(store):
    def inner():
        store.collapse("inner")
        raise ValueError("inner fails")

    def outer():
        a = store.collapse("outer")
        with pytest.raises(ValueError):
            store.transaction(inner)
        return a

    a = store.transaction(outer)
    assert store.resolve(a) == "outer"
    assert code_of(store.resolve, handle_for("inner")) == "E_HANDLE_NOT_FOUND"


def test_rollback_past_transaction_start_refused(store):
    cp = store.snapshot()
    store.collapse("before")

    def body():
        store.collapse("inside")
        store.rollback(cp)

    assert code_of(store.transaction, body) == "E_TRANSACTION_FAILED"
    assert store.resolve(handle_for("before")) == "before"
    assert code_of(store.resolve, handle_for("inside")) == "E_HANDLE_NOT_FOUND"

    def ok():
        inner_cp = store.snapshot()
        store.collapse("x")
        store.rollback(inner_cp)  # within the transaction: fine
        return store.stats()["values"]

    assert store.transaction(ok) == 1


# --------------------------------------------------------------------------- verify / tamper


def _tamper(store, handle_or_key: str, data: bytes) -> None:
    if isinstance(store, MemoryStore):
        key = handle_or_key.rsplit("_", 1)[1]
        store._values[key] = data
        store._log = [r if r[2] != key else (r[0], r[1], r[2], r[3], data) for r in store._log]
    else:
        db = sqlite3.connect(store.path)
        key = handle_or_key.rsplit("_", 1)[1]
        n = db.execute("UPDATE log SET data = ? WHERE key = ?", (data, key)).rowcount
        db.commit()
        db.close()
        assert n == 1


def test_tamper_detected(store):
    good = store.collapse("good")
    h = store.collapse([1, 2, 3])
    assert store.verify() == []
    _tamper(store, h, lcb.dumps([1, 2, 4]))
    assert code_of(store.resolve, h) == "E_HASH_MISMATCH"
    assert store.resolve(good) == "good"
    problems = store.verify()
    assert [p["code"] for p in problems] == ["E_HASH_MISMATCH"]
    assert problems[0]["key"] == h.rsplit("_", 1)[1]


def test_tamper_binding_detected(store):
    store.bind("&h_cfg", {"debug": False})
    if isinstance(store, MemoryStore):
        seq, digest, _ = store._bindings["&h_cfg"][-1]
        store._bindings["&h_cfg"][-1] = (seq, digest, lcb.dumps({"debug": True}))
        store._log[-1] = store._log[-1][:4] + (lcb.dumps({"debug": True}),)
    else:
        db = sqlite3.connect(store.path)
        db.execute("UPDATE log SET data = ? WHERE key = '&h_cfg'", (lcb.dumps({"debug": True}),))
        db.commit()
        db.close()
    assert code_of(store.resolve, "&h_cfg") == "E_HASH_MISMATCH"
    assert [p["code"] for p in store.verify()] == ["E_HASH_MISMATCH"]


def test_stats(store):
    s0 = store.stats()
    assert s0["backend"] in ("memory", "sqlite")
    assert (s0["values"], s0["bindings"], s0["rows"], s0["snapshots"], s0["seq"]) == (0, 0, 0, 0, 0)
    store.collapse(1)
    store.collapse("two")
    store.bind("&h_a", 1)
    store.bind("&h_a", 2)
    store.snapshot()
    s = store.stats()
    assert (s["values"], s["bindings"], s["rows"], s["snapshots"], s["seq"]) == (2, 1, 4, 1, 4)
    assert s["bytes"] == len(lcb.dumps(1)) + len(lcb.dumps("two")) + 2 * len(lcb.dumps(1))


def test_backends_agree_on_random_operations(tmp_path):
    import random

    rng = random.Random(1234)
    mem = MemoryStore()
    sql = SQLiteStore(tmp_path / "agree.sqlite", synchronous="OFF")
    cps: list[str] = []

    def step(s, op, arg):
        try:
            if op == "collapse":
                return s.collapse(arg)
            if op == "bind":
                return s.bind("&h_b" + str(arg % 3), arg)
            if op == "resolve":
                return s.resolve(arg)
            if op == "snapshot":
                return s.snapshot()
            if op == "rollback":
                return s.rollback(arg)
            if op == "txn":
                def body():
                    s.collapse(arg)
                    s.bind("&h_t", arg)
                    if arg % 2:
                        raise ValueError("odd")
                    return s.snapshot()
                return s.transaction(body)
        except (HLXError, ValueError) as e:
            return ("error", getattr(e, "code", "ValueError"))

    for _ in range(300):
        op = rng.choice(["collapse", "collapse", "bind", "resolve", "snapshot", "rollback", "txn"])
        if op == "resolve":
            arg = rng.choice([handle_for(rng.randrange(20)), "&h_b" + str(rng.randrange(3)),
                              "&h_t"])
        elif op == "rollback":
            arg = rng.choice(cps) if cps else "&h_checkpoint_1"
        else:
            arg = rng.randrange(20)
        a, b = step(mem, op, arg), step(sql, op, arg)
        assert a == b, (op, arg)
        if op in ("snapshot", "txn") and isinstance(a, str):
            cps.append(a)
        assert mem.stats() | {"backend": 0, "path": 0} == sql.stats() | {"backend": 0, "path": 0}
    sql.close()


# -------------------------------------------------------------------------------- sqlite only


def test_sqlite_persists_values_bindings_and_snapshots(tmp_path):
    path = tmp_path / "p.sqlite"
    with SQLiteStore(path) as s:
        h = s.collapse({"a": 1})
        s.bind("&h_docs", [1])
        cp = s.snapshot()
        late = s.collapse("late")
    with SQLiteStore(path) as s:
        assert s.resolve(h) == {"a": 1}
        assert s.resolve("&h_docs") == [1]
        assert s.resolve(late) == "late"
        s.rollback(cp)  # a snapshot taken by an earlier process still works
        assert code_of(s.resolve, late) == "E_HANDLE_NOT_FOUND"
        cp2 = s.snapshot()
    with SQLiteStore(path) as s:
        assert code_of(s.resolve, late) == "E_HANDLE_NOT_FOUND"
        assert int(cp2.rsplit("_", 1)[1]) > int(cp.rsplit("_", 1)[1])  # ids are not reused
        assert s.verify() == []


def test_sqlite_rejects_a_non_store_file(tmp_path):
    p = tmp_path / "junk.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        SQLiteStore(p)


def test_open_store_and_default_path(tmp_path):
    assert isinstance(open_store(None), MemoryStore)
    s = open_store(tmp_path / "x" / "y.sqlite")
    assert isinstance(s, SQLiteStore) and Path(s.path).is_file()
    s.close()
    p = default_store_path()
    assert p.name == "store.sqlite" and "helix" in str(p.parent).lower()


_CHILD = textwrap.dedent("""
    import sys, time
    from helix.hlx.store import SQLiteStore
    s = SQLiteStore(sys.argv[1])
    def body():
        for i in range(2000):
            s.collapse({"inside": i})
        s.bind("&h_docs", "changed")
        s.snapshot()
        print("READY", flush=True)
        time.sleep(60)
    s.transaction(body)
""")


def test_kill_9_mid_transaction_leaves_pre_transaction_state(tmp_path):
    path = tmp_path / "crash.sqlite"
    with SQLiteStore(path) as s:
        pre = [s.collapse(i) for i in range(10)]
        s.bind("&h_docs", "original")
        s.snapshot()
        before = s.stats()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *sys.path])
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "READY", child.stderr.read()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    with SQLiteStore(path) as s:
        after = s.stats()
        assert {k: after[k] for k in ("values", "bindings", "rows", "snapshots", "seq", "bytes")} \
            == {k: before[k] for k in ("values", "bindings", "rows", "snapshots", "seq", "bytes")}
        assert [s.resolve(h) for h in pre] == list(range(10))
        assert s.resolve("&h_docs") == "original"
        assert code_of(s.resolve, handle_for({"inside": 0})) == "E_HANDLE_NOT_FOUND"
        assert s.verify() == []
