"""Issue 18, class 5 (and 4) for the store: read-only commands open stores read-only and create
nothing; a foreign SQLite file is left alone; ``verify`` checks the log's whole chain; a row of
the wrong type is an HLXError; every ``helix cas`` failure is ``error: ...`` with exit 1."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from typer.testing import CliRunner

from helix.cli import app
from helix.cli import programs as cli
from helix.hlx import lcb
from helix.hlx.errors import HLXError
from helix.hlx.store import SQLiteStore, StoreError, chain_next

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def listing(d) -> set:
    return {p.name for p in d.iterdir()}


def make_store(path):
    with SQLiteStore(path) as s:
        hs = [s.collapse(v) for v in (1, "two", [3])]
        s.bind("&h_docs", {"a": 1})
        s.snapshot()
    return hs


def sql(path, statement, args=()):
    db = sqlite3.connect(path)
    db.execute(statement, args)
    db.commit()
    db.close()


# ---------------------------------------------------------------------- read-only opening


@pytest.mark.parametrize("cmd", [["stats"], ["verify"], ["resolve", "&h_docs"]])
def test_read_only_commands_never_create_a_store(tmp_path, cmd):
    typo = tmp_path / "typo" / "store.sqlite"
    r = invoke("cas", *cmd, "--store", str(typo))
    assert r.exit_code == 1 and r.stderr.startswith("error: no store at")
    assert listing(tmp_path) == set()  # no folder, no file


def test_read_only_commands_leave_the_folder_as_it_was(tmp_path):
    p = tmp_path / "s.sqlite"
    make_store(p)
    before = listing(tmp_path)
    data = p.read_bytes()
    for cmd in (["stats"], ["verify"], ["resolve", "&h_docs"]):
        r = invoke("cas", *cmd, "--store", str(p))
        assert r.exit_code == 0, r.output
    assert listing(tmp_path) == before  # no -wal, no -shm
    assert p.read_bytes() == data


def test_a_read_only_store_can_be_verified(tmp_path):
    p = tmp_path / "s.sqlite"
    make_store(p)
    os.chmod(p, stat.S_IRUSR)
    try:
        with SQLiteStore(p, readonly=True) as s:
            assert s.verify() == [] and s.stats()["rows"] == 4
            with pytest.raises(StoreError, match="read-only"):
                s.collapse("new")
        r = invoke("cas", "verify", "--store", str(p))
        assert r.exit_code == 0 and r.stdout.strip() == "ok"
    finally:
        os.chmod(p, stat.S_IRUSR | stat.S_IWUSR)


def test_a_foreign_sqlite_file_is_left_alone(tmp_path):
    p = tmp_path / "other.db"
    sql(p, "CREATE TABLE people (name TEXT)")
    data = p.read_bytes()
    for cmd in (["stats"], ["verify"], ["collapse", "1"], ["bind", "&h_x", "1"]):
        r = invoke("cas", *cmd, "--store", str(p))
        assert r.exit_code == 1 and "not a Helix store" in r.stderr, (cmd, r.output)
    assert p.read_bytes() == data
    db = sqlite3.connect(p)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["people"]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db.close()
    with pytest.raises(StoreError):
        SQLiteStore(p)


def test_an_empty_file_becomes_a_store_when_writing(tmp_path):
    p = tmp_path / "empty.sqlite"
    p.write_bytes(b"")
    r = invoke("cas", "collapse", "1", "--store", str(p))
    assert r.exit_code == 0, r.output
    assert cli.cas_stats(p)["values"] == 1


def test_a_folder_is_not_a_store(tmp_path):
    r = invoke("cas", "stats", "--store", str(tmp_path))
    assert r.exit_code == 1 and "folder" in r.stderr


# ------------------------------------------------------------------------ verify: chain


def test_verify_reports_a_deleted_row(tmp_path):
    p = tmp_path / "s.sqlite"
    make_store(p)
    sql(p, "DELETE FROM log WHERE seq = 2")
    problems = cli.cas_verify(p)
    assert problems and all(x["code"] == "E_HASH_MISMATCH" for x in problems)
    assert any("row 2 is missing" in x["message"] for x in problems)
    r = invoke("cas", "verify", "--store", str(p))
    assert r.exit_code == 1 and "missing" in r.stderr


def test_verify_reports_the_last_row_deleted(tmp_path):
    p = tmp_path / "s.sqlite"
    make_store(p)
    sql(p, "DELETE FROM log WHERE seq = 4")
    sql(p, "DELETE FROM snapshots")
    assert any("rows deleted at the end" in x["message"] for x in cli.cas_verify(p))


def test_verify_reports_an_impossible_kind_and_a_moved_binding(tmp_path):
    p = tmp_path / "s.sqlite"
    make_store(p)
    sql(p, "UPDATE log SET kind = 7 WHERE seq = 1")
    assert any("impossible kind 7" in x["message"] for x in cli.cas_verify(p))
    q = tmp_path / "t.sqlite"
    make_store(q)
    sql(q, "UPDATE log SET key = '&h_other' WHERE kind = 1")  # rebinding behind the store's back
    assert any("chain breaks at row 4" in x["message"] for x in cli.cas_verify(q))


def test_verify_reports_a_snapshot_past_the_end(tmp_path):
    p = tmp_path / "s.sqlite"
    make_store(p)
    sql(p, "UPDATE snapshots SET seq = 99")
    assert any("past the end of the log" in x["message"] for x in cli.cas_verify(p))


def test_rollback_keeps_the_chain_sound(tmp_path):
    p = tmp_path / "s.sqlite"
    with SQLiteStore(p) as s:
        s.collapse(1)
        cp = s.snapshot()
        s.collapse(2)
        s.bind("&h_a", 3)
        s.rollback(cp)
        s.collapse(4)
        assert s.verify() == []
        s.transaction(lambda: s.collapse(5))
        with pytest.raises(ZeroDivisionError):
            s.transaction(lambda: (s.collapse(6), 1 / 0))
        assert s.verify() == []


def test_a_schema_1_store_is_read_as_is_and_upgraded_when_written(tmp_path):
    p = tmp_path / "old.sqlite"
    db = sqlite3.connect(p)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE log (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, key TEXT NOT NULL,
                          digest TEXT NOT NULL, data BLOB NOT NULL);
        CREATE TABLE snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
    """)
    from helix.hlx.store import digest_of

    data = lcb.dumps([1, 2])
    db.execute("INSERT INTO log(kind, key, digest, data) VALUES (0, ?, ?, ?)",
               (digest_of(data), digest_of(data), data))
    db.commit()
    db.close()
    before = p.read_bytes()
    assert cli.cas_verify(p) == [] and cli.cas_stats(p)["rows"] == 1
    assert p.read_bytes() == before  # read-only: not upgraded
    with SQLiteStore(p) as s:  # writable: upgraded to the chained schema
        assert s.schema == "2"
        s.collapse(3)
        assert s.verify() == []
    db = sqlite3.connect(p)
    chain1 = db.execute("SELECT chain FROM log WHERE seq = 1").fetchone()[0]
    assert chain1 == chain_next("", 1, 0, digest_of(data), digest_of(data))
    db.close()


# --------------------------------------------------------------------- rows of wrong type


@pytest.mark.parametrize("value", ["text", 5, 1.5, None])
def test_a_row_of_the_wrong_type_is_an_hlx_error(tmp_path, value):
    p = tmp_path / "s.sqlite"
    hs = make_store(p)
    db = sqlite3.connect(p)
    db.execute("PRAGMA ignore_check_constraints = 1")
    if value is None:  # NOT NULL: a NULL cannot even be written; use an empty string instead
        value = ""
    db.execute("UPDATE log SET data = ? WHERE seq = 1", (value,))
    db.commit()
    db.close()
    with pytest.raises(HLXError) as e:
        cli.cas_resolve(hs[0], store_path=p)
    assert e.value.code == "E_HASH_MISMATCH"
    assert [x["code"] for x in cli.cas_verify(p)] == ["E_HASH_MISMATCH"]
    r = invoke("cas", "resolve", hs[0], "--store", str(p))
    assert r.exit_code == 1 and r.stderr.startswith("error: E_HASH_MISMATCH")
    r = invoke("cas", "verify", "--store", str(p))
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_a_binding_row_of_the_wrong_type_is_an_hlx_error(tmp_path):
    p = tmp_path / "s.sqlite"
    make_store(p)
    sql(p, "UPDATE log SET digest = 42 WHERE kind = 1")
    with pytest.raises(HLXError) as e:
        cli.cas_resolve("&h_docs", store_path=p)
    assert e.value.code == "E_HASH_MISMATCH"


def test_cas_commands_on_a_damaged_file_give_errors_not_tracebacks(tmp_path):
    p = tmp_path / "s.sqlite"
    make_store(p)
    data = bytearray(p.read_bytes())
    data[100:200] = b"\xff" * 100  # the schema page
    p.write_bytes(bytes(data))
    for cmd in (["stats"], ["verify"], ["resolve", "&h_docs"], ["collapse", "1"]):
        r = invoke("cas", *cmd, "--store", str(p))
        assert r.exit_code == 1 and r.stderr.startswith("error: "), (cmd, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit)
