"""Hypothesis settings for the fuzz suite: a quick run in CI, a long one on demand.

``MLCI_FUZZ_EXAMPLES`` sets the examples per property (default 40); for example
``MLCI_FUZZ_EXAMPLES=2000 pytest tests/fuzz`` is the long run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "mlci",
    max_examples=int(os.environ.get("MLCI_FUZZ_EXAMPLES", "40")),
    deadline=None,  # elapsed time is no assertion here; the harness has a hang limit
    derandomize=not os.environ.get("MLCI_FUZZ_RANDOM"),  # CI runs are reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
settings.load_profile("mlci")
