"""The 3-brain system around the trained brains.

- :mod:`helix.system.scheduler` — memory-aware placement of training jobs (pure function), device probing.
- :mod:`helix.system.launcher` — `helix launch`: training subprocesses, PID files, retries, `--resume`.
- :mod:`helix.system.pipeline` — the main job: corpus, launch, test-split accuracy, gate answers, report.
- :mod:`helix.system.status` — `helix status` / `helix logs`: status table, stall detection.
- :mod:`helix.system.router` — ``route(text, to=None) -> Route``.
- :mod:`helix.system.ask` — :class:`System` (models loaded once), `helix ask`, constrained retry, `--check`.
- :mod:`helix.system.server` — `helix serve` (FastAPI app, web page in ``web/index.html``).
- :mod:`helix.system.report` — `helix report`: HTML page with PNG plots.

Nothing here imports torch at import time; the brains are loaded on first use.
"""
