"""Scheduler decisions on simulated devices (pure function, no processes)."""

from __future__ import annotations

import pytest

from helix.system.scheduler import (
    GiB,
    Device,
    JobSpec,
    capacity_bytes,
    cpu_slots,
    plan_jobs,
    usable_bytes,
)


def job(brain, gib, prio=0, bs=32, ga=1, preset="p"):
    return JobSpec(brain, preset, bs, ga, int(gib * GiB), prio)


def test_fitting_jobs_run_together_and_the_rest_is_staged():
    dev = Device("cuda:0", int(7.5 * GiB), int(7.5 * GiB))  # usable: 7.125 GiB
    jobs = [job("coordinator", 5.0, 0), job("ascii", 2.0, 1), job("runic", 2.0, 2)]
    plan = plan_jobs(jobs, [dev])
    assert plan.state_of("coordinator") == "run"
    assert plan.state_of("ascii") == "run"  # 5 + 2 = 7 <= 7.125
    assert plan.state_of("runic") == "staged"  # 9 > 7.125
    assert "waits for a running job" in plan.by_brain("runic").reason
    assert sum(p.job.est_bytes for p in plan.running) <= usable_bytes(dev)


def test_reserved_memory_of_running_jobs_is_respected():
    dev = Device("cuda:0", 10 * GiB, 10 * GiB)
    plan = plan_jobs([job("runic", 2.0)], [dev], reserved={"cuda:0": int(8 * GiB)})
    assert plan.state_of("runic") == "staged"  # 9.5 - 8 = 1.5 GiB left
    plan = plan_jobs([job("runic", 1.0)], [dev], reserved={"cuda:0": int(8 * GiB)})
    assert plan.state_of("runic") == "run"


def test_first_fit_decreasing_does_not_starve_the_big_job():
    dev = Device("cuda:0", 8 * GiB, 8 * GiB)
    jobs = [job("ascii", 1.0), job("runic", 1.0), job("coordinator", 6.0)]
    plan = plan_jobs(jobs, [dev])  # same priority: biggest first
    assert plan.state_of("coordinator") == "run"
    assert [p.job.brain for p in plan.running] == ["ascii", "coordinator"]
    assert plan.state_of("runic") == "staged"  # 6 + 1 + 1 = 8 > 7.6


def test_h100_runs_everything_at_once():
    dev = Device("cuda:0", 80 * GiB, 79 * GiB)
    plan = plan_jobs([job("coordinator", 20), job("ascii", 11), job("runic", 11)], [dev])
    assert len(plan.running) == 3 and not plan.staged


def test_two_devices_spread_jobs():
    devs = [Device("cuda:0", 8 * GiB, 8 * GiB), Device("cuda:1", 8 * GiB, 8 * GiB)]
    plan = plan_jobs([job("coordinator", 6), job("ascii", 5), job("runic", 1)], devs)
    placed = {p.job.brain: p.device for p in plan.placements}
    assert placed["coordinator"] != placed["ascii"]
    assert all(p.state == "run" for p in plan.placements)


def test_job_too_big_for_any_device_is_shrunk_with_the_same_effective_batch():
    def est(j: JobSpec) -> int:  # 1 GiB fixed + 0.25 GiB per example
        return int(GiB + j.batch_size * GiB / 4)

    big = JobSpec("coordinator", "p", 64, 1, est(JobSpec("c", "p", 64, 1)))  # 17 GiB
    dev = Device("cuda:0", 8 * GiB, 8 * GiB)
    plan = plan_jobs([big], [dev], estimator=est)
    p = plan.by_brain("coordinator")
    assert p.state == "run"
    assert p.job.batch_size == 16 and p.job.grad_accum == 4  # 5 GiB fits 7.6 GiB, 32 (9 GiB) does not
    assert p.job.effective_batch == 64
    assert p.job.est_bytes == est(p.job)
    assert "micro-batch 64->16" in p.reason


def test_impossible_job_is_reported():
    est = lambda j: 100 * GiB  # noqa: E731 - nothing fits, whatever the batch
    plan = plan_jobs([JobSpec("coordinator", "p", 8, 1, 100 * GiB)], [Device("cuda:0", 8 * GiB, 8 * GiB)], estimator=est)
    assert plan.state_of("coordinator") == "impossible"
    assert "micro-batch 1" in plan.by_brain("coordinator").reason


def test_concurrency_cap_stages_the_rest():
    dev = Device("cpu", 24 * GiB, 20 * GiB)
    plan = plan_jobs([job("coordinator", 1, 0), job("ascii", 1, 1), job("runic", 1, 2)], [dev], max_concurrent=1)
    assert [p.state for p in plan.placements] == ["run", "staged", "staged"]
    assert "free slot" in plan.by_brain("ascii").reason


def test_cpu_slots():
    assert cpu_slots(3, 2, "sequential") == (1, 2)
    assert cpu_slots(3, 2, "parallel") == (3, 1)
    assert cpu_slots(2, 2, "parallel") == (2, 1)
    assert cpu_slots(3, 16, "parallel") == (3, 5)
    assert cpu_slots(1, 8, "parallel") == (1, 8)
    with pytest.raises(ValueError):
        cpu_slots(3, 2, "sideways")


def test_full_presets_on_a_simulated_7_5_gib_gpu_match_the_estimates():
    """The real estimates of the seed's shapes (bf16, default GPU micro-batch) on 7.5 GiB."""
    pytest.importorskip("helix.ml.memory")
    from helix.ml.config import PRESETS, default_train_config
    from helix.system.launcher import FULL_PRESETS, default_estimator

    est = default_estimator("cuda")
    jobs = []
    for prio, brain in enumerate(("coordinator", "ascii", "runic")):
        cfg = default_train_config(brain, FULL_PRESETS[brain], "cuda")
        spec = JobSpec(brain, FULL_PRESETS[brain], cfg.batch_size, cfg.grad_accum, priority=prio)
        jobs.append(JobSpec(brain, spec.preset, spec.batch_size, spec.grad_accum, est(spec), prio))
    dev = Device("cuda:0", int(7.5 * GiB), int(7.5 * GiB))
    cap = capacity_bytes(dev)
    plan = plan_jobs(jobs, [dev], estimator=est)
    # Re-derive the decision from the estimates: every job fits alone after shrinking, jobs run
    # together only while their (possibly shrunk) estimates add up to at most the usable memory.
    assert not plan.impossible
    total = 0
    for p in plan.placements:
        assert p.job.est_bytes <= cap
        assert p.job.effective_batch == next(j for j in jobs if j.brain == p.job.brain).effective_batch
        if p.state == "run":
            total += p.job.est_bytes
    assert total <= usable_bytes(dev)
    for p in plan.staged:  # a staged job really would not fit beside the running ones
        assert total + p.job.est_bytes > usable_bytes(dev)
    assert plan.running, "at least one job must start"
    # A job whose default micro-batch does not fit is shrunk; one that fits keeps it.
    for j in jobs:
        p = plan.by_brain(j.brain)
        assert (p.job.batch_size < j.batch_size) == (j.est_bytes > cap), (j, p)
    # The coordinator (priority) starts; with 7.5 GiB the three never run at once.
    assert plan.state_of("coordinator") == "run" and len(plan.running) < 3
    # Sanity of the estimate itself: parameters + grads + AdamW moments = 16 bytes per parameter.
    from helix.ml.memory import estimate_train_memory

    m = estimate_train_memory(PRESETS["coordinator-100m"], 1, 256, amp_bf16=True)
    assert m["params"] + m["grads"] + m["optimizer"] == 16 * PRESETS["coordinator-100m"].num_params()
