"""`kiln bench --phases`: the probe loaded into the services, and what it wrote, summed up.

The probe is `phase_probe/sitecustomize.py`, which Python imports at start-up from PYTHONPATH.
"""

from __future__ import annotations

import json
from pathlib import Path

PHASE_PROBE = Path(__file__).resolve().parent / "phase_probe"
PHASES = ("queued", "rate_limit", "pool_wait", "statements", "close", "request")


def phase_probe_env(phases: Path, *, stock_pool: bool) -> dict[str, str]:
    """The environment that loads `phase_probe/sitecustomize.py` into a service's processes."""
    phases.mkdir(parents=True, exist_ok=True)
    env = {"PYTHONPATH": str(PHASE_PROBE), "KILN_PHASES": str(phases)}
    return env | ({"KILN_PHASES_STOCK_POOL": "1"} if stock_pool else {})


def phase_percentiles(phases: Path) -> dict[str, tuple[float, float, float, float]]:
    """p50, p95, p99 and max of each phase in ms, over every request the probe wrote."""
    requests = [
        json.loads(line) for log in phases.glob("*.jsonl") for line in log.read_text().splitlines()
    ]
    figures = {}
    for phase in PHASES:
        values = sorted(request.get(phase, 0.0) * 1000 for request in requests)
        if values:
            at = [values[min(len(values) - 1, int(len(values) * q))] for q in (0.5, 0.95, 0.99)]
            figures[phase] = (at[0], at[1], at[2], values[-1])
    return figures
