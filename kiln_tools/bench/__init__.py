"""Throughput of rendered services against a baseline, side by side in one run (`kiln bench`).

Each side is a server on core 0: a rendered service's production server (one uvicorn process,
uvloop and httptools, no access log) with two probe routes, or the bare FastAPI app of
`scripts/baseline_app.py` under the same uvicorn options. wrk drives it from core 1. Rounds
alternate A B A B, so a slow spell of the machine costs both sides alike; the report gives
medians over rounds and the median of the per-round ratios. PostgreSQL and Redis are the
machine's (pgvector: the embedded server).

- `wrk.py`: the wrk driver, a side and its rounds;
- `servers.py`: the servers, pinned, and the run's renders and databases (`Bench`);
- `scenarios.py`: the seven scenarios and their budgets;
- `report.py`: the table, the verdicts and the JSON figures;
- `phases.py`: `--phases`, with `phase_probe/sitecustomize.py`, loaded into the services;
- `scripts/`: what runs outside Kiln's process: wrk's Lua, the baseline app, the probe routes'
  module (`kiln_bench_probe.py`, the app factory's `features` hook) and the vector corpus filler.
"""
