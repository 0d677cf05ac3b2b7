"""`helix status` / `helix logs`: status table, stall detection in UTC, latest run, logs."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console
from typer.testing import CliRunner

from helix.cli import app
from helix.system import status as st
from helix.util import atomic_write_json, utc_now_iso


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_status(run, brain, **kw):
    base = {"time": utc_now_iso(), "brain": brain, "preset": "x-tiny", "epoch": 2, "total_epochs": 8,
            "step": 120, "total_steps": 480, "train_loss": 0.4321, "val_loss": 0.5123, "val_exact_match": 0.625,
            "tokens_per_s": 12345.6, "mfu": None, "eta_s": 95, "gpu_mem_bytes": None, "status": "training",
            "last_gate": {"epoch": 1, "passed": False, "requests": "1/3", "reason": "x"}, "message": "", "pid": None}
    base.update(kw)
    atomic_write_json(run / brain / "status.json", base)


@pytest.fixture
def run(tmp_path):
    r = tmp_path / "runs" / "20260101T000000Z"
    write_status(r, "coordinator")
    write_status(r, "ascii", status="completed", val_exact_match=0.97, eta_s=0)
    write_status(r, "runic", status="staged", message="needs 5.00 GiB, only 1.00 GiB available now")
    return r


def test_stall_is_detected_from_the_utc_time_of_the_status_file():
    now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    old = {"status": "training", "time": iso(now - timedelta(minutes=10))}
    fresh = {"status": "training", "time": iso(now - timedelta(seconds=30))}
    assert st.check_brain("c", old, now=now, stall_after_s=300).stalled
    assert not st.check_brain("c", old, now=now, stall_after_s=900).stalled
    assert not st.check_brain("c", fresh, now=now, stall_after_s=300).stalled
    assert "no update for 10m00s" in st.check_brain("c", old, now=now, stall_after_s=300).warning
    done = {"status": "completed", "time": iso(now - timedelta(days=3))}
    assert not st.check_brain("c", done, now=now, stall_after_s=300).stalled  # finished: not a stall


def test_stall_check_ignores_the_local_time_zone(monkeypatch):
    """A fresh status must not look hours old (or new) on a machine with a non-UTC zone."""
    if not hasattr(time, "tzset"):
        pytest.skip("no time.tzset on this platform")
    for zone in ("Asia/Kolkata", "America/Los_Angeles"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        s = st.check_brain("c", {"status": "training", "time": utc_now_iso()}, stall_after_s=60)
        assert not s.stalled and abs(s.age_s) < 5
    monkeypatch.delenv("TZ")
    time.tzset()


def test_dead_training_process_is_flagged():
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    s = st.check_brain("c", {"status": "training", "time": utc_now_iso(), "pid": p.pid})
    assert s.stalled and f"process {p.pid} is gone" in s.warning


def test_table_shows_every_brain(run):
    write_status(run, "coordinator", time=iso(datetime.now(timezone.utc) - timedelta(hours=1)))
    con = Console(record=True, width=220)
    con.print(st.render_status(run, stall_after_s=300))
    out = con.export_text()
    for needle in ("coordinator", "ascii", "runic", "training?", "completed", "staged",
                   "2/8", "120/480", "0.512", "62.5%", "97.0%", "gate ep1 FAIL 1/3", "12,346",
                   "WARNING coordinator: no update for 1h00m", "needs 5.00 GiB"):
        assert needle in out, needle


def test_latest_run_and_cli(run, tmp_path, monkeypatch):
    older = tmp_path / "runs" / "20250101T000000Z"
    write_status(older, "ascii")
    monkeypatch.chdir(tmp_path)
    assert st.latest_run() == st.runs_root() / run.name
    res = CliRunner().invoke(app, ["status", "--stall-after", "600"], env={"COLUMNS": "220"})
    assert res.exit_code == 0, res.output
    assert run.name in res.output and "coordinator" in res.output and "stalled" not in res.output
    res = CliRunner().invoke(app, ["status", str(run), "--json", "--stall-after", "0"])
    data = json.loads(res.output)
    assert [b["brain"] for b in data["brains"]] == ["coordinator", "ascii", "runic"]
    # age measured against real UTC: with a zero threshold the training brain is a stall
    assert data["brains"][0]["stalled"] and not data["brains"][1]["stalled"]


def test_status_without_runs_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["status"])
    assert res.exit_code == 1 and "helix launch" in res.output


def test_logs_tail_and_follow(run, tmp_path, monkeypatch):
    log = run / "ascii" / "ascii_training.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["logs", "ascii", "-n", "3"])
    assert res.exit_code == 0 and res.output.splitlines() == ["line 97", "line 98", "line 99"]
    res = CliRunner().invoke(app, ["logs", "runic", "--run", str(run)])
    assert res.exit_code == 1 and "no log" in res.output

    import io
    import threading

    out = io.StringIO()
    stop = threading.Event()
    t = threading.Thread(target=st.follow, args=(log, out), kwargs={"interval": 0.02, "stop": stop.is_set})
    t.start()
    time.sleep(0.1)
    with open(log, "a") as f:
        f.write("appended 1\nappended 2\n")
    deadline = time.time() + 5
    while "appended 2" not in out.getvalue() and time.time() < deadline:
        time.sleep(0.02)
    stop.set()
    t.join(5)
    assert out.getvalue() == "appended 1\nappended 2\n"


def test_half_written_metrics_line_is_skipped(run):
    (run / "ascii" / "metrics.jsonl").write_text('{"kind": "epoch", "epoch": 1}\n{"kind": "ep')
    assert list(st.iter_metrics(run, "ascii")) == [{"kind": "epoch", "epoch": 1}]


def test_human_duration():
    assert st.human_duration(5) == "5s"
    assert st.human_duration(125) == "2m05s"
    assert st.human_duration(3 * 3600 + 120) == "3h02m"
    assert st.human_duration(None) == "-"


def test_table_fits_an_80_column_terminal_without_cutting_words(run):
    write_status(run, "coordinator", tokens_per_s=4256.0, step=1650, total_steps=19824,
                 precision={"autocast": "off", "attention": "sdpa", "muon_ns": "fp32"},
                 projection={"line": "SHORT: projects 1,650 steps in 828s (2.00/s); the recipe needed 4,000",
                             "short": True})
    write_status(run, "ascii", status="quality_failed", val_exact_match=0.31,
                 verdict={"line": "test exact 31.0% (target 90%): quality_failed", "met": False})
    con = Console(record=True, width=80)
    con.print(st.render_status(run, stall_after_s=300))
    out = con.export_text()
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out  # no column cut to a few letters
    for word in ("coordinator", "training", "quality_failed", "1650/19824", "4,256", "62.5%", "val EM", "ETA"):
        assert word in out
    flat = " ".join(out.split())  # the lines under the table wrap at word boundaries
    assert "SHORT: projects 1,650 steps in 828s" in flat and "fp32 sdpa NS-fp32" in flat
    assert "ascii: test exact 31.0% (target 90%): quality_failed" in flat
