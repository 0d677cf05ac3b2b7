"""The launcher with a fake `helix train` (a tiny script): staging by memory, OOM retry, crash
resume, retry exhaustion, adoption and restart after the launcher stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helix.system.launcher import Launcher, LaunchOptions, pid_alive, resolve_presets
from helix.system.scheduler import GiB, Device, JobSpec

FAKE_TRAIN = textwrap.dedent(
    r'''
    import argparse, json, os, sys, time
    from datetime import datetime, timezone
    from pathlib import Path

    p = argparse.ArgumentParser()
    for a in ("--brain", "--corpus", "--preset", "--out", "--batch-size", "--grad-accum", "--seed",
              "--device", "--epochs", "--max-steps", "--time-budget", "--mix", "--init-from"):
        p.add_argument(a)
    p.add_argument("--resume", action="store_true")
    a, _ = p.parse_known_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    beh = json.loads(os.environ.get("FAKE_TRAIN", "{}")).get(a.brain, {})
    attempt = 1 + sum(1 for _ in open(out / "calls.jsonl")) if (out / "calls.jsonl").exists() else 1
    now = lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    def status(s, msg=""):
        tmp = out / "status.json.tmp"
        tmp.write_text(json.dumps({"time": now(), "brain": a.brain, "status": s, "message": msg,
                                   "pid": os.getpid(), "epoch": 1, "total_epochs": 2}))
        os.replace(tmp, out / "status.json")
    with open(out / "calls.jsonl", "a") as f:
        f.write(json.dumps({"attempt": attempt, "batch": int(a.batch_size), "accum": int(a.grad_accum),
                            "resume": a.resume, "budget": a.time_budget, "device": a.device,
                            "start": time.time(), "threads": os.environ.get("OMP_NUM_THREADS"),
                            "mix": a.mix, "init_from": a.init_from}) + "\n")
    status("training")
    time.sleep(beh.get("sleep", 0.3))
    if beh.get("oom_above") and int(a.batch_size) > beh["oom_above"]:
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True)
        status("failed", "CUDA out of memory")
        sys.exit(1)
    if attempt <= beh.get("crash_attempts", 0):
        (out / "checkpoints" / "last").mkdir(parents=True, exist_ok=True)
        print("Traceback (most recent call last):\nRuntimeError: simulated crash", flush=True)
        os._exit(137)
    final = beh.get("final", "completed")
    status(final, "done")
    with open(out / "ends.jsonl", "a") as f:
        f.write(json.dumps({"end": time.time()}) + "\n")
    sys.exit(0 if final == "completed" else 3)  # like helix train
    '''
)


@pytest.fixture
def fake_train(tmp_path, monkeypatch):
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)

    def setup(behaviour: dict):
        monkeypatch.setenv("FAKE_TRAIN", json.dumps(behaviour))
        return [sys.executable, str(script)]

    return setup


def make(tmp_path, train_cmd, *, devices, est_gib, brains=("coordinator", "ascii", "runic"), batch=16,
         max_retries=2, mode="auto", time_budget=None, device="auto", warm_start="off", epochs=2):
    corpus = tmp_path / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)

    def estimator(j: JobSpec) -> int:  # proportional to the micro-batch
        return int(est_gib[j.brain] * GiB * j.batch_size / batch)

    opts = LaunchOptions(runs_dir=tmp_path / "runs", brains=tuple(brains), max_retries=max_retries,
                         poll_s=0.05, mode=mode, time_budget=time_budget, device=device, epochs=epochs,
                         warm_start=warm_start)
    return Launcher.create(
        opts, corpus_dir=corpus, train_cmd=train_cmd, devices_fn=lambda: devices, estimator=estimator,
        batch_fn=lambda b, p, k: (batch, 1), log=lambda s: None,
    )


def calls(launcher, brain):
    path = launcher.brain_dir(brain) / "calls.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_memory_staging_on_a_simulated_7_5_gib_gpu(tmp_path, fake_train):
    cmd = fake_train({"coordinator": {"sleep": 0.8}, "ascii": {"sleep": 0.8}, "runic": {"sleep": 0.3}})
    gpu = [Device("cuda:0", int(7.5 * GiB), int(7.5 * GiB))]
    L = make(tmp_path, cmd, devices=gpu, est_gib={"coordinator": 5.0, "ascii": 2.0, "runic": 2.0})
    L.run()
    assert {b: j["state"] for b, j in L.jobs.items()} == dict.fromkeys(("coordinator", "ascii", "runic"), "completed")
    ev = [(e["brain"], e["event"]) for e in L.state["events"]]
    assert ("runic", "staged") in ev
    # runic started only after one of the first two had finished, and never beside both
    runic_start = calls(L, "runic")[0]["start"]
    first_end = min(json.loads((L.brain_dir(b) / "ends.jsonl").read_text().splitlines()[0])["end"]
                    for b in ("coordinator", "ascii"))
    assert runic_start >= first_end
    assert calls(L, "coordinator")[0]["start"] < first_end and calls(L, "ascii")[0]["start"] < first_end
    assert calls(L, "coordinator")[0]["device"] == "cuda:0"
    st = json.loads((L.run_dir / "launch.json").read_text())
    assert st["phase"] == "trained" and st["jobs"]["runic"]["attempts"] == 1
    assert not list(L.run_dir.glob("*.pid"))  # pid files go when the processes end


def test_oom_retry_halves_micro_batch_and_doubles_accumulation(tmp_path, fake_train):
    cmd = fake_train({"coordinator": {"oom_above": 8, "sleep": 0.1}})
    L = make(tmp_path, cmd, devices=[Device("cuda:0", 80 * GiB, 80 * GiB)], est_gib={"coordinator": 4.0},
             brains=("coordinator",))
    L.run()
    c = calls(L, "coordinator")
    assert [(x["batch"], x["accum"]) for x in c] == [(16, 1), (8, 2)]
    job = L.jobs["coordinator"]
    assert job["state"] == "completed" and job["oom_retries"] == 1
    assert job["est_bytes"] == int(2.0 * GiB)  # re-estimated at micro-batch 8
    assert any(e["event"] == "retry" and "out of memory" in e["detail"] for e in L.state["events"])


def test_crash_resumes_from_last_checkpoint(tmp_path, fake_train):
    cmd = fake_train({"ascii": {"crash_attempts": 1, "sleep": 0.1}})
    L = make(tmp_path, cmd, devices=[Device("cpu", 8 * GiB, 8 * GiB)], est_gib={"ascii": 0.1},
             brains=("ascii",), time_budget=100)
    L.run()
    c = calls(L, "ascii")
    assert [x["resume"] for x in c] == [False, True]
    assert L.jobs["ascii"]["state"] == "completed"
    assert [float(x["budget"]) for x in c] == [100, 100]  # train --resume counts the time already spent
    assert any(e["event"] == "retry" and "simulated crash" in e["detail"] for e in L.state["events"])


def test_retries_are_bounded(tmp_path, fake_train):
    cmd = fake_train({"runic": {"crash_attempts": 99, "sleep": 0.05}})
    L = make(tmp_path, cmd, devices=[Device("cpu", 8 * GiB, 8 * GiB)], est_gib={"runic": 0.1},
             brains=("runic",), max_retries=2)
    L.run()
    assert len(calls(L, "runic")) == 3
    assert L.jobs["runic"]["state"] == "failed"
    st = json.loads((L.brain_dir("runic") / "status.json").read_text())
    assert st["status"] == "failed" and "gave up after 3 attempts" in st["message"]


def test_quality_failed_is_not_retried(tmp_path, fake_train):
    cmd = fake_train({"runic": {"final": "quality_failed", "sleep": 0.05}})
    L = make(tmp_path, cmd, devices=[Device("cpu", 8 * GiB, 8 * GiB)], est_gib={"runic": 0.1}, brains=("runic",))
    L.run()
    assert len(calls(L, "runic")) == 1 and L.jobs["runic"]["state"] == "quality_failed"


def test_cpu_sequential_and_parallel_thread_budget(tmp_path, fake_train, monkeypatch):
    import helix.system.launcher as launcher_mod

    monkeypatch.setattr(launcher_mod, "cpu_count", lambda: 2)
    cmd = fake_train({b: {"sleep": 0.3} for b in ("coordinator", "ascii", "runic")})
    cpu = [Device("cpu", 24 * GiB, 20 * GiB)]
    L = make(tmp_path / "seq", cmd, devices=cpu, est_gib=dict.fromkeys(("coordinator", "ascii", "runic"), 0.5),
             mode="sequential")
    L.run()
    spans = sorted((calls(L, b)[0]["start"], b) for b in L.jobs)
    ends = {b: json.loads((L.brain_dir(b) / "ends.jsonl").read_text())["end"] for b in L.jobs}
    for (s1, b1), (s2, _) in zip(spans, spans[1:]):
        assert s2 >= ends[b1]  # one after another
    assert {calls(L, b)[0]["threads"] for b in L.jobs} == {"2"}
    P = make(tmp_path / "par", cmd, devices=cpu, est_gib=dict.fromkeys(("coordinator", "ascii", "runic"), 0.5),
             mode="parallel")
    assert P.state["slots"] == 3 and P.state["threads_per_job"] == 1
    P.run()
    assert {calls(P, b)[0]["threads"] for b in P.jobs} == {"1"}
    starts = sorted(calls(P, b)[0]["start"] for b in P.jobs)
    ends = sorted(json.loads((P.brain_dir(b) / "ends.jsonl").read_text())["end"] for b in P.jobs)
    assert starts[-1] < ends[0]  # all three ran side by side


def test_resume_after_reboot_restarts_dead_jobs_and_keeps_finished_ones(tmp_path, fake_train):
    cmd = fake_train({"ascii": {"sleep": 0.1}, "runic": {"sleep": 0.1}})
    L = make(tmp_path, cmd, devices=[Device("cpu", 8 * GiB, 8 * GiB)], est_gib={"ascii": 0.1, "runic": 0.1},
             brains=("ascii", "runic"))
    # Simulate a machine that went down: runic was completed, ascii was training (pid now dead)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    L.jobs["ascii"].update(state="running", pid=dead.pid, attempts=1, started="2026-01-01T00:00:00Z")
    (L.brain_dir("ascii") / "checkpoints" / "last").mkdir(parents=True)
    L.jobs["runic"].update(state="completed", attempts=1)
    L.save()
    R = Launcher.load(L.run_dir, devices_fn=lambda: [Device("cpu", 8 * GiB, 8 * GiB)], log=lambda s: None,
                      estimator=lambda j: GiB // 10, sleep=time.sleep)
    assert R.train_cmd == cmd  # the fake command was kept in launch.json
    R.adopt_or_restart()
    assert R.jobs["ascii"]["state"] == "queued"
    R.run()
    assert R.jobs["ascii"]["state"] == "completed"
    assert [c["resume"] for c in calls(R, "ascii")] == [True]
    assert calls(R, "runic") == []  # not retrained
    assert R.jobs["ascii"]["restarts"] == 1


def test_resume_adopts_a_live_training_process(tmp_path, fake_train):
    cmd = fake_train({"ascii": {"sleep": 0.8}})
    L = make(tmp_path, cmd, devices=[Device("cpu", 8 * GiB, 8 * GiB)], est_gib={"ascii": 0.1}, brains=("ascii",))
    argv = cmd + ["--brain", "ascii", "--out", str(L.brain_dir("ascii")), "--batch-size", "16", "--grad-accum", "1"]
    proc = subprocess.Popen(argv, env=dict(os.environ))
    try:
        L.jobs["ascii"].update(state="running", pid=proc.pid, attempts=1, started="2026-01-01T00:00:00Z")
        L.save()
        R = Launcher.load(L.run_dir, devices_fn=lambda: [Device("cpu", 8 * GiB, 8 * GiB)], log=lambda s: None,
                          estimator=lambda j: GiB // 10)
        R.adopt_or_restart()
        assert R.jobs["ascii"]["state"] == "running"
        assert any(e["event"] == "adopted" for e in R.state["events"])
        R.run()
    finally:
        proc.wait(timeout=10)
    assert R.jobs["ascii"]["state"] == "completed"
    assert len(calls(R, "ascii")) == 1  # adopted, not started again


def test_pid_alive_checks_the_command_line():
    assert pid_alive(os.getpid())
    assert pid_alive(os.getpid(), expect="python") or pid_alive(os.getpid(), expect="pytest")
    assert not pid_alive(os.getpid(), expect="no-such-argument-xyz")
    assert not pid_alive(None)


def test_resolve_presets():
    b = ("coordinator", "ascii", "runic")
    assert resolve_presets("auto", b, "cpu") == {"coordinator": "coordinator-tiny", "ascii": "specialist-tiny",
                                                 "runic": "specialist-tiny"}
    assert resolve_presets("auto", b, "cuda")["coordinator"] == "coordinator-100m"
    assert resolve_presets("coordinator=coordinator-100m", b, "cpu")["coordinator"] == "coordinator-100m"
    assert resolve_presets("coordinator=coordinator-100m", b, "cpu")["ascii"] == "specialist-tiny"


def test_dry_run_prints_the_schedule_and_starts_nothing(tmp_path):
    pytest.importorskip("helix.ml.memory")
    from typer.testing import CliRunner

    from helix.cli import app

    r = CliRunner().invoke(app, ["launch", "--dry-run", "--gpu-mem", "7.5", "--preset", "full",
                                 "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "coordinator-100m" in r.output and "start now" in r.output and "staged" in r.output
    r = CliRunner().invoke(app, ["launch", "--dry-run", "--gpu-mem", "80", "--preset", "full",
                                 "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "250"})
    assert r.output.count("start now") == 3 and "staged" not in r.output
    assert not (tmp_path / "runs").exists()


def test_time_budget_runs_the_schedule_over_the_budget(tmp_path, fake_train):
    """When only a time budget bounds a job, the launcher asks `helix train` to anneal the
    learning rate over that budget; with explicit epochs the step schedule stays."""
    cmd = fake_train({})
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for epochs, expect in ((None, True), (3, False)):
        opts = LaunchOptions(runs_dir=tmp_path / f"runs{epochs}", brains=("runic",), poll_s=0.05,
                             time_budget=100, device="auto", epochs=epochs)
        L = Launcher.create(opts, corpus_dir=corpus, train_cmd=cmd,
                            devices_fn=lambda: [Device("cpu", 8 * GiB, 8 * GiB)],
                            estimator=lambda j: GiB // 10, batch_fn=lambda b, p, k: (16, 1),
                            log=lambda s: None)
        argv = L._train_argv("runic")
        assert ("--schedule-by-time" in argv) is expect
        assert argv[argv.index("--time-budget") + 1] == "100"


def _ends(L, b):
    return json.loads((L.brain_dir(b) / "ends.jsonl").read_text().splitlines()[0])["end"]


def test_warm_start_trains_the_coordinator_first_then_the_specialists_from_it(tmp_path, fake_train,
                                                                                monkeypatch):
    import helix.system.launcher as launcher_mod

    monkeypatch.setattr(launcher_mod, "cpu_count", lambda: 2)
    cmd = fake_train({b: {"sleep": 0.3} for b in ("coordinator", "ascii", "runic")})
    cpu = [Device("cpu", 24 * GiB, 20 * GiB)]
    L = make(tmp_path, cmd, devices=cpu, est_gib=dict.fromkeys(("coordinator", "ascii", "runic"), 0.5),
             warm_start="auto", time_budget=1000, epochs=None)
    assert L.state["warm_start"] is True and L.state["slots"] == 2
    L.run()
    assert {b: j["state"] for b, j in L.jobs.items()} == dict.fromkeys(("coordinator", "ascii", "runic"), "completed")
    [c] = calls(L, "coordinator")
    assert (c["mix"], c["init_from"], c["threads"], float(c["budget"])) == ("all", None, "2", 720.0)
    for b in ("ascii", "runic"):
        [s] = calls(L, b)
        assert s["mix"] is None and s["init_from"] == str(L.brain_dir("coordinator"))
        # what the coordinator left of the run's 1000 s (it stopped after 0.3 s; its share was 720 s)
        assert s["threads"] == "1"
        assert float(s["budget"]) == pytest.approx(1000 - L.jobs["coordinator"]["run_s"], abs=0.01)
        assert float(s["budget"]) > 280.0
        assert L.jobs[b]["argv"][L.jobs[b]["argv"].index("--lr") + 1] == "0.00025"  # a quarter of the recipe's
        assert s["start"] >= _ends(L, "coordinator")  # only once the coordinator is done
    # the two specialists ran side by side
    assert max(calls(L, b)[0]["start"] for b in ("ascii", "runic")) < min(_ends(L, b) for b in ("ascii", "runic"))


def test_warm_start_falls_back_to_training_from_scratch_when_the_coordinator_fails(tmp_path, fake_train,
                                                                                     monkeypatch):
    import helix.system.launcher as launcher_mod

    monkeypatch.setattr(launcher_mod, "cpu_count", lambda: 2)
    cmd = fake_train({"coordinator": {"crash_attempts": 99, "sleep": 0.05}})
    cpu = [Device("cpu", 24 * GiB, 20 * GiB)]
    L = make(tmp_path, cmd, devices=cpu, est_gib=dict.fromkeys(("coordinator", "ascii", "runic"), 0.5),
             warm_start="on", max_retries=0)
    L.run()
    assert L.jobs["coordinator"]["state"] == "failed"
    for b in ("ascii", "runic"):
        assert L.jobs[b]["state"] == "completed" and calls(L, b)[0]["init_from"] is None
        assert "--lr" not in L.jobs[b]["argv"]  # from scratch: the recipe's own learning rate
    assert sum(e["event"] == "warm start skipped" for e in L.state["events"]) == 2


def test_warm_start_needs_one_model_shape():
    from helix.system.launcher import LaunchError, warm_start_applies

    tiny = {"coordinator": "coordinator-tiny", "ascii": "specialist-tiny", "runic": "specialist-tiny"}
    full = {"coordinator": "coordinator-100m", "ascii": "specialist-50m", "runic": "specialist-50m"}
    assert warm_start_applies(LaunchOptions(), "cpu", tiny) is True
    assert warm_start_applies(LaunchOptions(), "cuda", tiny) is False  # auto: CPU only
    assert warm_start_applies(LaunchOptions(warm_start="on"), "cuda", tiny) is True
    assert warm_start_applies(LaunchOptions(), "cpu", full) is False
    assert warm_start_applies(LaunchOptions(warm_start="off"), "cpu", tiny) is False
    assert warm_start_applies(LaunchOptions(brains=("runic",)), "cpu", tiny) is False
    with pytest.raises(LaunchError, match="one model shape"):
        warm_start_applies(LaunchOptions(warm_start="on"), "cpu", full)


@pytest.mark.parametrize("scores, code", [({"coordinator": 0.95, "ascii": 0.93}, 0),
                                          ({"coordinator": 0.95, "ascii": 0.62}, 1)])
def test_main_job_exit_code_is_the_verdict(tmp_path, fake_train, monkeypatch, capsys, scores, code):
    """`helix launch` (scripts/main.sh) exits 0 only when every brain met its target."""
    import helix.system.launcher as launcher_mod
    from helix.system import pipeline

    cmd = fake_train({b: {"sleep": 0.05} for b in scores})
    monkeypatch.setattr(launcher_mod, "default_train_cmd", lambda: cmd)
    monkeypatch.setattr(pipeline, "print_precision", lambda: None)
    monkeypatch.setattr(launcher_mod.Launcher, "project_jobs", lambda self, measure=None: None)
    monkeypatch.setattr("helix.system.report.write_report", lambda run_dir: run_dir / "report.html")

    def fake_eval(run_dir, **kw):
        acc = {"rows": [], "brains": {b: {"n": 10, "exact": s, "target_exact": s, "target_n": 10,
                                          "lcb_heldout_number": None} for b, s in scores.items()}}
        (Path(run_dir) / "summary.json").write_text(json.dumps({"gate_answers": []}))
        return acc

    monkeypatch.setattr(pipeline, "evaluate_run", fake_eval)
    monkeypatch.setattr(pipeline, "print_accuracy", lambda acc: None)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.json").write_text("{}")
    opts = LaunchOptions(runs_dir=tmp_path / "runs", corpus=corpus, brains=tuple(scores), poll_s=0.05,
                         epochs=1, device="cpu", warm_start="off")
    assert pipeline.launch_main(opts) == code
    out = capsys.readouterr().out
    run = next((tmp_path / "runs").glob("2*"))
    summ = json.loads((run / "summary.json").read_text())
    assert summ["verdicts"]["ascii"]["verdict"] == ("met" if code == 0 else "below target")
    st = json.loads((run / "ascii" / "status.json").read_text())
    assert st["verdict"]["met"] is (code == 0)
    if code:
        assert "NOT SUCCESSFUL: ascii: 62.0% < 90% (below target)" in " ".join(out.split())
    else:
        assert "every brain met its target" in out


def test_a_specialist_that_ends_hands_its_cores_to_the_one_still_running(tmp_path, fake_train, monkeypatch):
    import helix.system.launcher as launcher_mod

    monkeypatch.setattr(launcher_mod, "cpu_count", lambda: 2)
    cmd = fake_train({"coordinator": {"sleep": 0.05}, "ascii": {"sleep": 1.5}, "runic": {"sleep": 0.05}})
    cpu = [Device("cpu", 24 * GiB, 20 * GiB)]
    L = make(tmp_path, cmd, devices=cpu, est_gib=dict.fromkeys(("coordinator", "ascii", "runic"), 0.5),
             warm_start="auto", time_budget=1000, epochs=None)
    L.run()
    assert calls(L, "ascii")[0]["threads"] == "1"  # started with its share of the 2 cores
    control = json.loads((L.brain_dir("ascii") / "control.json").read_text())
    assert (control["threads"], control["from"]) == (2, "runic")  # runic ended first: its core
    assert L.jobs["ascii"]["threads"] == 2
    assert any(e["event"] == "threads" and e["brain"] == "ascii" for e in L.state["events"])
    assert not (L.brain_dir("runic") / "control.json").exists()  # nobody is left to give it cores
