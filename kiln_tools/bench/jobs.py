"""`kiln bench-jobs`: the jobs one worker process finishes per second, on one core.

For each queue, the rendered service takes a batch of jobs through its API, as a client submits
them; then the rendered `worker` command, one process pinned to SERVER_CORE, runs them. A round's
rate is its jobs over the time from the first one's start to the last one's end, read from the
jobs table, so neither the submissions nor the worker's start-up count. The job is
`reindex_note_words` over a few notes: the claim, the status and progress updates and the events
every job of the template pays around its own work, and a little work of its own. The figures
size the workers (the generated docs/deploy.md); they are not a budget.
"""

from __future__ import annotations

import json
import signal
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kiln_tools.bench.scenarios import add_notes, call
from kiln_tools.bench.servers import SERVER_CORE, Bench, script_for
from kiln_tools.steps import Build
from kiln_tools.tooling import run, start_server

# One worker process, as each of a pod's processes runs: Dramatiq's with its threads, on one
# event loop; Celery's prefork child, one job at a time.
WORKER_OPTIONS = {
    "dramatiq": ["--processes", "1", "--threads", "4"],
    "celery": ["--concurrency", "1"],
}
JOB = {"name": "reindex_note_words"}


@dataclass
class JobRound:
    jobs: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


@dataclass
class QueueSide:
    queue: str
    notes: int
    rounds: list[JobRound] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(one.rate for one in self.rounds)


def submit(api_url: str) -> str:
    created = call(api_url, "POST", "/api/v1/jobs", JOB)
    assert isinstance(created, dict), created
    return str(created["id"])


def job_times(build: Build, database_url: str, ids: Sequence[str]) -> dict[str, float | None]:
    python = str(build.project / ".venv" / "bin" / "python")
    script = script_for("job_times.py", build.package)
    output = run(build.project, python, "-c", script, *ids, env={"DATABASE_URL": database_url})
    figures: dict[str, float | None] = json.loads(output.stdout.strip().splitlines()[-1])
    return figures


def one_round(
    bench: Bench, build: Build, database_url: str, api_url: str, jobs: int, label: str
) -> JobRound:
    """Submit `jobs`, then let one pinned worker process run them all; stop it after."""
    ids = [submit(api_url) for _ in range(jobs)]
    cli = str(build.project / ".venv" / "bin" / build.package)
    options = WORKER_OPTIONS[str(build.combination.answers["task_queue"])]
    command = ["taskset", "-c", SERVER_CORE, cli, "worker", *options]
    worker = start_server(
        build.project, command, bench.service_environment(database_url), log=bench.log(label)
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            figures = job_times(build, database_url, ids)
            done = (figures["succeeded"] or 0) + (figures["failed"] or 0)
            if done == jobs:
                break
            assert time.monotonic() < deadline, f"{label}: {done} of {jobs} jobs done in 300 s"
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert figures["failed"] == 0, f"{label}: {figures['failed']} jobs failed"
    seconds = figures["seconds"]
    assert seconds is not None
    assert seconds > 0
    return JobRound(jobs, seconds)


def measure_queues(queues: Sequence[str], *, jobs: int, rounds: int, notes: int) -> list[QueueSide]:
    sides = []
    for queue in queues:
        bench = Bench()
        try:
            build = bench.build(task_queue=queue, use_auth=False)
            database_url = bench.database(build)
            api = bench.service(build, f"{queue} service", database_url, "")
            add_notes(api.url, notes)
            side = QueueSide(queue, notes)
            for number in range(rounds):
                label = f"{queue} worker round {number + 1}"
                side.rounds.append(one_round(bench, build, database_url, api.url, jobs, label))
            sides.append(side)
        finally:
            bench.close()
    return sides


def table(sides: Sequence[QueueSide]) -> list[str]:
    lines = [f"{'queue':10} {'jobs/s per process (median)':>28}  rounds"]
    for side in sides:
        rounds = ", ".join(f"{one.rate:.0f}" for one in side.rounds)
        lines.append(f"{side.queue:10} {side.rate:28.1f}  {rounds}")
    return lines
