"""Memory-aware placement of training jobs on devices (a pure function) and device probing.

The planner decides, from each job's estimated peak memory and each device's free memory, which
jobs start now, on which device, and which wait ("staged") until memory frees. It never places a
job whose estimate does not fit the memory left on the device after the jobs already running
there (their estimates are reserved, not their momentary use, which grows as a job warms up).

A job that would not fit even an empty device at its micro-batch size is shrunk: the micro-batch
is halved and gradient accumulation doubled (the effective batch is unchanged) until it fits or
the micro-batch is 1; if it still does not fit it is reported ``impossible``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

GiB = 1024**3
MiB = 1024**2

#: Fraction of a device's total memory never handed to jobs (allocator fragmentation, CUDA
#: context, the launcher's own process).
DEFAULT_RESERVE_FRACTION = 0.05


@dataclass(frozen=True)
class JobSpec:
    """One training job as the planner sees it."""

    brain: str
    preset: str
    batch_size: int
    grad_accum: int = 1
    est_bytes: int = 0  # estimated peak memory at ``batch_size``
    priority: int = 0  # lower starts first among jobs that fit

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum


@dataclass(frozen=True)
class Device:
    """A device to train on: ``cuda:N`` or ``cpu`` with its total and currently free memory."""

    name: str
    total_bytes: int
    free_bytes: int

    @property
    def kind(self) -> str:
        return "cuda" if self.name.startswith("cuda") else "cpu"


@dataclass(frozen=True)
class Placement:
    """The planner's decision for one job."""

    job: JobSpec
    state: str  # "run" | "staged" | "impossible"
    device: str | None
    reason: str

    def to_dict(self) -> dict:
        return {
            "brain": self.job.brain,
            "preset": self.job.preset,
            "batch_size": self.job.batch_size,
            "grad_accum": self.job.grad_accum,
            "est_bytes": self.job.est_bytes,
            "state": self.state,
            "device": self.device,
            "reason": self.reason,
        }


@dataclass
class Plan:
    placements: list[Placement] = field(default_factory=list)

    def state_of(self, brain: str) -> str:
        return self.by_brain(brain).state

    def by_brain(self, brain: str) -> Placement:
        for p in self.placements:
            if p.job.brain == brain:
                return p
        raise KeyError(brain)

    @property
    def running(self) -> list[Placement]:
        return [p for p in self.placements if p.state == "run"]

    @property
    def staged(self) -> list[Placement]:
        return [p for p in self.placements if p.state == "staged"]

    @property
    def impossible(self) -> list[Placement]:
        return [p for p in self.placements if p.state == "impossible"]


Estimator = Callable[[JobSpec], int]


def usable_bytes(device: Device, reserve_fraction: float = DEFAULT_RESERVE_FRACTION) -> int:
    """Memory the planner may hand out on ``device`` now: free memory minus the safety reserve."""
    return max(0, device.free_bytes - int(device.total_bytes * reserve_fraction))


def capacity_bytes(device: Device, reserve_fraction: float = DEFAULT_RESERVE_FRACTION) -> int:
    """Memory a job could ever get on ``device`` (total minus the reserve)."""
    return max(0, device.total_bytes - int(device.total_bytes * reserve_fraction))


def shrink_to_fit(job: JobSpec, limit: int, estimator: Estimator | None) -> JobSpec | None:
    """Halve the micro-batch (doubling accumulation) until the estimate fits ``limit``.

    Returns the job unchanged if it fits, the shrunk job, or ``None`` if even micro-batch 1 does
    not fit (or there is no estimator to re-estimate with).
    """
    if job.est_bytes <= limit:
        return job
    if estimator is None:
        return None
    cur = job
    while cur.batch_size > 1:
        bs = max(1, cur.batch_size // 2)
        cur = replace(cur, batch_size=bs, grad_accum=cur.grad_accum * 2)
        cur = replace(cur, est_bytes=int(estimator(cur)))
        if cur.est_bytes <= limit:
            return cur
    return None


def plan_jobs(
    jobs: Sequence[JobSpec],
    devices: Sequence[Device],
    *,
    reserved: dict[str, int] | None = None,
    max_concurrent: int | None = None,
    estimator: Estimator | None = None,
    reserve_fraction: float = DEFAULT_RESERVE_FRACTION,
) -> Plan:
    """Decide which of ``jobs`` start now and where.

    ``devices`` carry their free memory *before* the jobs of this plan; ``reserved`` maps device
    name -> bytes already promised to jobs that are running (their estimates), which are taken
    off the free memory. ``max_concurrent`` caps how many jobs may run at once in total
    (counting none of the already running ones; the caller subtracts those).

    Jobs are considered in (priority, -estimate) order — first-fit decreasing, so the big job
    is not starved by small ones — and each goes to the device with the most memory left that
    fits it. A job that cannot fit now but would fit an empty device is ``staged``.
    """
    reserved = dict(reserved or {})
    left = {d.name: usable_bytes(d, reserve_fraction) - reserved.get(d.name, 0) for d in devices}
    cap = {d.name: capacity_bytes(d, reserve_fraction) for d in devices}
    best_cap = max(cap.values(), default=0)
    order = sorted(range(len(jobs)), key=lambda i: (jobs[i].priority, -jobs[i].est_bytes, i))
    decided: dict[int, Placement] = {}
    started = 0
    for i in order:
        job = jobs[i]
        fitted = shrink_to_fit(job, best_cap, estimator)
        if fitted is None:
            decided[i] = Placement(
                job,
                "impossible",
                None,
                f"needs {fmt_bytes(job.est_bytes)} even at micro-batch 1; the largest device "
                f"offers {fmt_bytes(best_cap)}",
            )
            continue
        note = ""
        if fitted is not job:
            note = (
                f" (micro-batch {job.batch_size}->{fitted.batch_size}, accumulation "
                f"{job.grad_accum}->{fitted.grad_accum} to fit {fmt_bytes(best_cap)})"
            )
        job = fitted
        if max_concurrent is not None and started >= max_concurrent:
            decided[i] = Placement(
                job, "staged", None, f"waits for a free slot (jobs at once are limited){note}"
            )
            continue
        candidates = [d for d in devices if left[d.name] >= job.est_bytes]
        if candidates:
            dev = max(candidates, key=lambda d: left[d.name])
            before = left[dev.name]
            left[dev.name] -= job.est_bytes
            started += 1
            decided[i] = Placement(
                job,
                "run",
                dev.name,
                f"needs {fmt_bytes(job.est_bytes)}, {fmt_bytes(before)} available on "
                f"{dev.name}{note}",
            )
        else:
            most = max(left.values(), default=0)
            decided[i] = Placement(
                job,
                "staged",
                None,
                f"needs {fmt_bytes(job.est_bytes)}, only {fmt_bytes(max(0, most))} available "
                f"now; waits for a running job to finish{note}",
            )
    return Plan([decided[i] for i in range(len(jobs))])


def fmt_bytes(n: int | float | None) -> str:
    if n is None:
        return "-"
    n = float(n)
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


# ----------------------------------------------------------------------------- device probing


def _cuda_devices_nvidia_smi() -> list[Device] | None:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    devs = []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    allowed = None if visible in (None, "") else [v.strip() for v in visible.split(",")]
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            continue
        idx, total, free = parts
        if allowed is not None and idx not in allowed:
            continue
        n = len(devs)  # renumbered as torch sees them under CUDA_VISIBLE_DEVICES
        devs.append(Device(f"cuda:{n}", int(float(total)) * MiB, int(float(free)) * MiB))
    return devs


def _cuda_devices_torch() -> list[Device]:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return []
    if not torch.cuda.is_available():
        return []
    devs = []
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        devs.append(Device(f"cuda:{i}", int(total), int(free)))
    return devs


def cpu_memory() -> tuple[int, int]:
    """(total, available) RAM in bytes from /proc/meminfo (falls back to sysconf)."""
    total = avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k == "MemTotal":
                    total = int(rest.split()[0]) * 1024
                elif k == "MemAvailable":
                    avail = int(rest.split()[0]) * 1024
    except OSError:
        pass
    if total is None:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if avail is None:
        avail = total
    return total, avail


def probe_devices(kind: str = "auto") -> list[Device]:
    """The devices to schedule on: every visible GPU (``kind`` auto/cuda) else the CPU's RAM.

    GPU memory is read with ``nvidia-smi`` when present so that the launcher does not hold a
    CUDA context of its own; torch is the fallback.
    """
    if kind in ("auto", "cuda"):
        devs = _cuda_devices_nvidia_smi()
        if not devs:
            devs = _cuda_devices_torch()
        if devs:
            return devs
        if kind == "cuda":
            raise RuntimeError("--device cuda was asked for but no CUDA device is visible")
    total, avail = cpu_memory()
    return [Device("cpu", total, avail)]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def cpu_slots(n_jobs: int, cores: int, mode: str) -> tuple[int, int]:
    """(jobs at once, torch threads per job) on CPU for ``mode`` sequential/parallel.

    sequential: one job at a time with every core. parallel: every job at once, the cores split
    between them (at least one thread each, so 3 jobs on 2 cores share them through the OS).
    """
    cores = max(1, cores)
    if mode == "sequential" or n_jobs <= 1:
        return 1, cores
    if mode == "parallel":
        return n_jobs, max(1, cores // n_jobs)
    raise ValueError(f"unknown CPU mode {mode!r} (sequential or parallel)")
