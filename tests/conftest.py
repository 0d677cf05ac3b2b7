"""Suite-wide setting: the tests keep their own cache (the precision probe's choices, the measured
times to target) instead of the user's ``~/.cache/helix``. A probe timed while the suite loads both
cores would otherwise be what the next main job on this machine trusts (it picked fp32 over bf16
for a main job on machine B), and a test's short trainings would enter the machine's history."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if "HELIX_CACHE_DIR" not in os.environ:
    _cache = os.environ["HELIX_CACHE_DIR"] = tempfile.mkdtemp(prefix="helix-test-cache-")
    atexit.register(shutil.rmtree, _cache, True)  # gone with the session
