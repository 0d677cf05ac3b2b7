"""No silent garbage: projections before training, verdicts after it, and the exit code."""

from __future__ import annotations

import json

from helix.ml.config import TrainConfig
from helix.ml.train import _quality_verdict
from helix.system import pipeline
from helix.system.projection import project


def test_projection_says_when_the_budget_is_short(monkeypatch, tmp_path):
    monkeypatch.setenv("HELIX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("helix.system.projection.RECIPE_STEPS_TO_TARGET", {"ascii": 3000})
    short = project("ascii", {"steps_per_s": 2.0, "tokens_per_s": 4000}, 1000.0)
    assert short["short"] and short["projected_steps"] == 2000 and short["time_needed_s"] == 1500
    assert short["line"].startswith("SHORT: projects 2,000 steps in 1000s (2.00 steps/s, 4,000 tokens/s)")
    assert "about 1500s here" in short["line"]
    ok = project("ascii", {"steps_per_s": 4.0, "tokens_per_s": 8000}, 1000.0)
    assert not ok["short"] and ok["projected_steps"] == 4000
    monkeypatch.setattr("helix.system.projection.RECIPE_REFERENCE",
                        {"runic": {"steps": 1200, "val_exact_match": 0.8, "machine": "some CPU"}})
    unknown = project("runic", {"steps_per_s": 4.0, "tokens_per_s": 8000}, 1000.0)
    assert unknown["short"] and "no measured run of this recipe reached its target" in unknown["line"]
    assert "80.0% val exact match in 1,200 steps (some CPU)" in unknown["line"]
    assert project("ascii", {"steps_per_s": 4.0, "tokens_per_s": 1}, None)["projected_steps"] is None


def test_projection_gives_the_time_to_target_and_never_contradicts_itself(monkeypatch, tmp_path):
    """The cases measured on machine C (issue 26): a brain whose reference run reached its target
    gets an ETA, not "unlikely to be met"; one that never did gets no ETA and says so."""
    monkeypatch.setenv("HELIX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("helix.system.projection.RECIPE_STEPS_TO_TARGET", {"coordinator": 8001})
    monkeypatch.setattr("helix.system.projection.RECIPE_REFERENCE", {
        "coordinator": {"steps": 7001, "val_exact_match": 0.904, "machine": "B"},
        "ascii": {"steps": 3551, "val_exact_match": 0.870, "machine": "B"},
        "runic": {"steps": 601, "val_exact_match": 0.908, "machine": "B"}})
    rate = {"steps_per_s": 10.0, "tokens_per_s": 20_000}
    coord = project("coordinator", rate, None, cap_s=10_800)
    assert coord["eta_s"] == 800 and not coord["short"]
    assert coord["line"].startswith("ETA 13 min to the target: 8,001 steps (the reference run, B)")
    runic = project("runic", {"steps_per_s": 2.27, "tokens_per_s": 3000}, None, cap_s=10_800)
    assert runic["eta_s"] == round(601 / 2.27) and "unlikely" not in runic["line"]
    ascii_ = project("ascii", rate, None, cap_s=10_800)
    assert ascii_["eta_s"] is None and ascii_["line"].startswith("ETA unknown: no measured run of this recipe")
    assert "87.0% val exact match in 3,551 steps (B)" in ascii_["line"] and "at most 3.0 h" in ascii_["line"]
    slow = project("coordinator", {"steps_per_s": 0.5, "tokens_per_s": 900}, None, cap_s=3600)
    assert slow["short"] and slow["line"].startswith("OVER THE CAP: ETA 4.4 h")
    from helix.system.projection import job_eta

    assert job_eta({"coordinator": coord, "runic": runic}, warm_start=True) == 800 + runic["eta_s"]
    assert job_eta({"coordinator": coord, "ascii": ascii_}, warm_start=True) is None


def test_each_run_teaches_the_next_projection_on_this_machine(monkeypatch, tmp_path):
    from helix.system.projection import history_path, record_time_to_target

    monkeypatch.setenv("HELIX_CACHE_DIR", str(tmp_path))
    here = {"cpu": "Test CPU", "cores": 2, "torch": "2.13.0"}
    other = {"cpu": "Other CPU", "cores": 2, "torch": "2.13.0"}
    rate = {"steps_per_s": 2.0, "tokens_per_s": 4000}
    assert project("ascii", rate, None, machine=here)["eta_s"] is None
    record_time_to_target("ascii", {"reached": False, "steps": 5000, "seconds": 2500, "stop_reason": "plateau"}, here)
    assert project("ascii", rate, None, machine=here)["eta_s"] is None  # a plateau is no time to target
    record_time_to_target("ascii", {"reached": True, "steps": 4000, "seconds": 2000, "stop_reason": "target",
                                    "precision": {"autocast": "off"}}, here)
    p = project("ascii", rate, None, machine=here)
    assert p["steps_needed"] == 4000 and p["eta_s"] == 2000 and "measured on this machine" in p["line"]
    assert project("ascii", rate, None, machine=other)["eta_s"] is None  # another machine: not its curve
    h = json.loads(history_path().read_text())
    [rows] = h.values()
    assert [r["stop_reason"] for r in rows["ascii"]] == ["plateau", "target"] and rows["ascii"][1]["recipe"]


def test_a_run_with_other_training_arguments_is_not_the_recipes_curve(monkeypatch, tmp_path):
    from helix.system.projection import record_time_to_target

    monkeypatch.setenv("HELIX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("helix.system.projection.RECIPE_STEPS_TO_TARGET", {})
    monkeypatch.setattr("helix.system.projection.RECIPE_REFERENCE", {})
    here = {"cpu": "Test CPU", "cores": 2, "torch": "2.13.0"}
    rate = {"steps_per_s": 2.0, "tokens_per_s": 4000}
    record_time_to_target("ascii", {"reached": True, "steps": 4000, "seconds": 2000, "stop_reason": "target",
                                    "train_args": ["--tokenizer=lex-case"]}, here)
    assert project("ascii", rate, None, machine=here)["eta_s"] is None  # the default recipe: not measured
    p = project("ascii", rate, None, machine=here, train_args=["--tokenizer=lex-case"])
    assert p["steps_needed"] == 4000 and "measured on this machine" in p["line"]
    record_time_to_target("ascii", {"reached": True, "steps": 3000, "seconds": 1500, "stop_reason": "target"}, here)
    assert project("ascii", rate, None, machine=here)["steps_needed"] == 3000
    assert project("ascii", rate, None, machine=here, train_args=["--tokenizer=lex-case"])["steps_needed"] == 4000


def test_launcher_records_projections_in_launch_json_and_status(tmp_path, monkeypatch):
    from helix.system.launcher import Launcher, LaunchOptions
    from helix.system.scheduler import Device

    monkeypatch.setattr("helix.system.projection.RECIPE_STEPS_TO_TARGET", {"coordinator": 10_000})
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.json").write_text("{}")
    opts = LaunchOptions(runs_dir=tmp_path / "runs", time_budget=100.0, brains=("coordinator",))
    L = Launcher.create(opts, corpus_dir=corpus, train_cmd=["true"], log=lambda m: None,
                        devices_fn=lambda: [Device("cpu", 8 << 30, 8 << 30)],
                        estimator=lambda spec: 1 << 20)
    L.project_jobs(measure=lambda brain, job: {"steps_per_s": 3.0, "tokens_per_s": 900,
                                               "precision": {"autocast": "off"}})
    launch = json.loads((L.run_dir / "launch.json").read_text())
    proj = launch["jobs"]["coordinator"]["projection"]
    assert proj["short"] and proj["projected_steps"] == 300 and launch["machine"]["cpu"]
    st = json.loads((L.run_dir / "coordinator" / "status.json").read_text())
    assert st["projection"]["line"].startswith("SHORT") and st["precision"] == {"autocast": "off"}
    assert any(e["event"] == "projection" for e in launch["events"])


def test_training_below_the_floor_is_quality_failed_not_completed():
    cfg = TrainConfig(gate_min_exact=0.9, gate_floor=0.5)
    assert _quality_verdict(cfg, 0.2, "completed", "time budget reached")[0] == "quality_failed"
    status, msg = _quality_verdict(cfg, 0.7, "completed", "")
    assert status == "completed" and msg.startswith("below target")
    assert _quality_verdict(cfg, 0.95, "completed", "x") == ("completed", "x")
    assert _quality_verdict(cfg, 0.1, "aborted", "diverged") == ("aborted", "diverged")


def _acc(**brains):
    return {"brains": {b: {"n": 100, "exact": v, "target_exact": v, "target_n": 90,
                           "lcb_heldout_number": {"n": 10, "exact_match": 0.1}} for b, v in brains.items()}}


def test_verdict_per_brain_against_target_and_floor():
    jobs = {b: {"state": "completed"} for b in ("coordinator", "ascii", "runic")}
    v = pipeline.brain_verdicts(_acc(coordinator=0.93, ascii=0.7, runic=0.2), jobs)
    assert [v[b]["verdict"] for b in jobs] == ["met", "below target", "quality_failed"]
    assert v["coordinator"]["met"] and not v["ascii"]["met"]
    assert "LC-B held-out numbers apart: 10.0% of 10" in v["ascii"]["line"]
    missing = pipeline.brain_verdicts({}, {"runic": {"state": "failed"}})
    assert missing["runic"]["verdict"] == "quality_failed" and "not evaluated" in missing["runic"]["why"]


def test_a_specialist_gets_what_the_coordinator_left_of_the_budget(tmp_path):
    from helix.system.launcher import Launcher, LaunchOptions
    from helix.system.scheduler import Device

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.json").write_text("{}")
    opts = LaunchOptions(runs_dir=tmp_path / "runs", time_budget=1000.0, warm_start="on")
    L = Launcher.create(opts, corpus_dir=corpus, train_cmd=["true"], log=lambda m: None,
                        devices_fn=lambda: [Device("cpu", 8 << 30, 8 << 30)], estimator=lambda spec: 1 << 20)
    share = L.jobs["ascii"]["time_budget"]

    def budget():
        argv = L._train_argv("ascii")
        return float(argv[argv.index("--time-budget") + 1])

    assert budget() == share  # the coordinator has not run: the specialist's share
    L.jobs["coordinator"]["run_s"] = 400.0  # it stopped early at its target
    assert budget() == 600.0
    L.jobs["coordinator"]["run_s"] = 990.0  # it ran over its share: the share still holds
    assert budget() == share


def test_measured_step_rate_runs_the_jobs_real_step(tmp_path):
    from test_ml_train import write_corpus

    from helix.system.projection import measure_step_rate

    import torch

    corpus = write_corpus(tmp_path / "c", brain="runic", n=16, train_copies=4)
    before = torch.get_num_threads()
    r = measure_step_rate("runic", "specialist-tiny", corpus, threads=before + 1, batch_size=8, steps=2)
    assert r["steps_per_s"] > 0 and r["tokens_per_s"] > 0 and r["threads"] == before + 1
    assert r["tokenizer"] == "lex" and set(r["precision"]) == {"autocast", "attention", "muon_ns"}
    assert torch.get_num_threads() == before  # the caller's thread count is put back
