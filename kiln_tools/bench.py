"""Throughput of rendered services against a baseline, side by side in one run (`kiln bench`).

Each side is a server on core 0: a rendered service's production server (one uvicorn process,
uvloop and httptools, no access log), or the bare FastAPI app of `baseline_app.py` under the same
uvicorn options. wrk drives it from core 1. Rounds alternate A B A B, so a slow spell of the
machine costs both sides alike; the report gives medians over rounds and the median of the
per-round ratios. PostgreSQL and Redis are the machine's (pgvector: the embedded server).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kiln_tools.matrix import Combination, default_combination, dimensions
from kiln_tools.steps import PRODUCTION, REDIS_URL, Build, Workshop, sync
from kiln_tools.tooling import (
    DatabaseUrl,
    create_database,
    drop_database,
    free_port,
    run,
    start_server,
    wait_for_http,
)

KILN_TOOLS = Path(__file__).resolve().parent
PHASE_PROBE = KILN_TOOLS / "phase_probe"
SERVER_CORE = "0"
LOAD_CORE = "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# wrk's own summary, as JSON: its percentiles are in microseconds.
WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "non_2xx": %d, "socket_errors": %d,'
    .. ' "p50": %f, "p95": %f, "p99": %f}\\n',
    summary.requests, summary.duration / 1e6, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


@dataclass
class Round:
    rate: float  # requests per second
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # server CPU time per request


@dataclass
class Side:
    label: str
    url: str
    pid: int
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    rounds: list[Round] = field(default_factory=list)

    def median(self, metric: Callable[[Round], float]) -> float:
        return statistics.median(metric(one) for one in self.rounds)

    @property
    def errors(self) -> int:
        return sum(one.errors for one in self.rounds)


@dataclass
class Comparison:
    """One scenario: `subject` measured against `baseline`, and the budget on their ratio."""

    name: str
    subject: Side
    baseline: Side
    budget: str
    holds: Callable[[Comparison], bool]

    @property
    def ratios(self) -> list[float]:
        return [
            subject.rate / baseline.rate
            for subject, baseline in zip(self.subject.rounds, self.baseline.rounds, strict=True)
        ]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line, counted from 1.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wrk(side: Side, *, seconds: int, connections: int, script: Path) -> Round:
    url = side.url + side.path
    command = ["taskset", "-c", LOAD_CORE, "wrk", "--latency", "-t1", f"-c{connections}"]
    command += [f"-d{seconds}s", "-s", str(script), url]
    for name, value in side.headers.items():
        command += ["-H", f"{name}: {value}"]
    before = server_cpu_seconds(side.pid)
    environment = {**os.environ, "WRK_METHOD": side.method, "WRK_BODY": side.body or ""}
    finished = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    assert finished.returncode == 0, f"{' '.join(command)}: {finished.stderr}"
    output = finished.stdout
    cpu = server_cpu_seconds(side.pid) - before
    report = json.loads(output.strip().splitlines()[-1])
    requests = max(report["requests"], 1)
    return Round(
        rate=report["requests"] / report["seconds"],
        p50_ms=report["p50"] / 1000,
        p95_ms=report["p95"] / 1000,
        p99_ms=report["p99"] / 1000,
        errors=report["non_2xx"] + report["socket_errors"],
        cpu_us=cpu / requests * 1e6,
    )


def measure(
    sides: Sequence[Side], *, rounds: int, seconds: int, connections: int, script: Path
) -> None:
    """A warm-up round each, then `rounds` rounds alternating between the sides."""
    for side in sides:
        wrk(side, seconds=1, connections=connections, script=script)
    for _ in range(rounds):
        for side in sides:
            side.rounds.append(wrk(side, seconds=seconds, connections=connections, script=script))


@contextmanager
def pinned_server(
    project: Path, command: Sequence[str], env: dict[str, str], ready_path: str, log: Path
) -> Iterator[tuple[str, int]]:
    """A server on SERVER_CORE, ready; its base URL and process id; SIGTERM afterwards.

    Its output goes to `log`: a pipe nobody reads during the run would fill up with the slow-
    request warnings of a loaded server and then block it.
    """
    port = free_port()
    pinned = ["taskset", "-c", SERVER_CORE, *command, "--port", str(port)]
    server = start_server(project, pinned, env, log=log)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}{ready_path}")
        assert status == 200, body
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


class Bench:
    """Renders, databases and servers of one benchmark run; everything stops with it."""

    def __init__(self, service_env: dict[str, str] | None = None) -> None:
        self.service_env = service_env or {}  # e.g. the phase probe's, for the services only
        self.workshop = Workshop()
        self.dims = dimensions()
        self._stack = ExitStack()
        self._databases: list[tuple[str, DatabaseUrl]] = []
        self.script = Path(self.workshop.root) / "report.lua"
        self.script.write_text(WRK_REPORT + REQUEST_SCRIPT)

    def close(self) -> None:
        self._stack.close()
        for name, server in self._databases:
            drop_database(name, server)
        self.workshop.close()

    def log(self, label: str) -> Path:
        return self.workshop.root / f"{re.sub(r'[^a-z0-9]+', '-', label.lower())}.log"

    def build(self, **answers: object) -> Build:
        """The `--defaults` render with these answers changed, installed."""
        base = default_combination(self.dims)
        merged = {**base.answers, **answers}
        label = "-".join(dimension.label(merged[dimension.name]) for dimension in self.dims)
        build = self.workshop.build(Combination(label, merged), self.dims)
        if not (build.project / ".venv").is_dir():
            sync(build)
            add_bench_routes(build)
        return build

    def database(self, build: Build) -> str:
        name = f"kiln_bench_{len(self._databases)}_{os.getpid()}"
        server = self.workshop.server_for(build.combination)
        create_database(name, server)
        self._databases.append((name, server))
        return server(name)

    def service(self, build: Build, label: str, database_url: str, path: str) -> Side:
        """The rendered service's production server, migrated."""
        env = {
            **PRODUCTION,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "LOG_LEVEL": "WARNING",  # a benchmark's requests would fill a pipe nobody reads
            # Limits still counted (their cost is part of the stack), never reached by wrk.
            "RATE_LIMIT_DEFAULT": "1000000000/minute",
            **self.service_env,
        }
        command = str(build.project / ".venv" / "bin" / build.package)
        run(build.project, command, "db", "upgrade", env=env)
        url, pid = self._stack.enter_context(
            pinned_server(build.project, [command, "serve"], env, "/health/ready", self.log(label))
        )
        return Side(label, url, pid, path)

    def baseline(self, build: Build, database_url: str, path: str, **env: str) -> Side:
        """The bare app, on the same interpreter, libraries and uvicorn options as `build`."""
        python = str(build.project / ".venv" / "bin" / "python")
        command = [
            python, "-m", "uvicorn", "baseline_app:app", "--app-dir", str(KILN_TOOLS),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-server-header",
        ]  # fmt: skip
        url, pid = self._stack.enter_context(
            pinned_server(
                build.project,
                command,
                {"DATABASE_URL": database_url, **env},
                "/api/v1/bench/ping",
                self.log("bare FastAPI"),
            )
        )
        return Side("bare FastAPI", url, pid, path)


# Requests other than a plain GET (a POST with a body): wrk's request() from the environment.
REQUEST_SCRIPT = """
local method = os.getenv("WRK_METHOD")
local body = os.getenv("WRK_BODY")
if method ~= "GET" then
  wrk.method = method
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
"""

BENCH_ROUTES = '''"""Trivial JSON endpoints for `kiln bench`: the whole stack, nothing else."""

from fastapi import APIRouter

first = APIRouter(prefix="/bench", tags=["bench"])
last = APIRouter(prefix="/bench-last", tags=["bench"])


@first.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


@last.get("/ping")
async def ping_last() -> dict[str, str]:
    return {"status": "ok"}
'''


def add_bench_routes(build: Build) -> None:
    """Mount `GET /api/v1/bench/ping` before the API's routers and `/api/v1/bench-last/ping`
    after them (this copy only): the first measures the stack, the pair what routing costs."""
    package = build.project / "src" / build.package
    (package / "bench_probe.py").write_text(BENCH_ROUTES)
    api = package / "api.py"
    api.write_text(
        api.read_text()
        + f"\nfrom {build.package} import bench_probe\n"
        + "\nAPI_ROUTERS.insert(0, (bench_probe.first, ERROR_RESPONSES))"
        + "\nAPI_ROUTERS.append((bench_probe.last, ERROR_RESPONSES))\n"
    )


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("kiln bench needs wrk: apt-get install wrk")
    return found


def call(
    url: str,
    method: str,
    path: str,
    body: dict[str, object] | None = None,
    *,
    form: bool = False,
    headers: dict[str, str] | None = None,
) -> object:
    """One request to set a scenario up; the JSON answer."""
    headers = dict(headers or {})
    data = None
    if body is not None and form:
        data = urllib.parse.urlencode(body).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    # Only the bench's own local servers: http://127.0.0.1:<port>.
    request = urllib.request.Request(url + path, data, headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        payload = response.read()
    return json.loads(payload) if payload else None


def sign_in(url: str) -> dict[str, str]:
    """A new account's bearer header."""
    account = {"email": "bench@example.com", "password": "Correct-Horse-42-battery"}
    call(url, "POST", "/api/v1/auth/register", account)
    form = {"username": account["email"], "password": account["password"]}
    tokens = call(url, "POST", "/api/v1/auth/token", form, form=True)
    assert isinstance(tokens, dict), tokens
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def add_notes(url: str, count: int, headers: dict[str, str] | None = None) -> str:
    """`count` notes with two tags each; the id of the last."""
    created: object = None
    for index in range(count):
        note = {"title": f"Note {index}", "body": "a few words", "tags": ["bench", f"t{index % 5}"]}
        created = call(url, "POST", "/api/v1/notes", note, headers=headers)
    assert isinstance(created, dict), created
    return str(created["id"])


NO_AUTH = {"use_auth": False}
ALL_ON = {"use_auth": True, "use_cache": True, "use_pgvector": True, "use_observability": True}


def stack(bench: Bench) -> Comparison:
    """A trivial JSON endpoint under /api/v1 through the whole stack, every flag on."""
    build = bench.build(**ALL_ON)
    database = bench.database(build)
    subject = bench.service(build, "every flag on", database, "/api/v1/bench/ping")
    baseline = bench.baseline(build, database, "/api/v1/bench/ping")
    return Comparison("1 stack", subject, baseline, ">= 0.5 of bare", lambda c: c.ratio >= 0.5)


def listing(bench: Bench) -> Comparison:
    """A page of 20 notes (and their tags and total) against the same queries on asyncpg."""
    build = bench.build(**NO_AUTH)
    database = bench.database(build)
    subject = bench.service(build, "defaults, no auth", database, "/api/v1/notes?limit=20")
    add_notes(subject.url, 40)
    baseline = bench.baseline(build, database, "/api/v1/notes?limit=20")
    return Comparison(
        "2 list",
        subject,
        baseline,
        ">= 0.8 of bare asyncpg, p95 < 100 ms",
        lambda c: c.ratio >= 0.8 and c.subject.median(lambda r: r.p95_ms) < 100,
    )


def cached_read(bench: Bench) -> Comparison:
    """One note by id, with the cache (hit path) against without it."""
    sides = []
    for label, cache in (("cache on (hits)", True), ("cache off", False)):
        build = bench.build(**NO_AUTH, use_cache=cache)
        side = bench.service(build, label, bench.database(build), "")
        side.path = f"/api/v1/notes/{add_notes(side.url, 1)}"
        sides.append(side)
    return Comparison("3 cached read", *sides, ">= 2x uncached", lambda c: c.ratio >= 2)


def authenticated_read(bench: Bench) -> Comparison:
    """One note by id (no cache), signed in against with auth off."""
    sides = []
    for label, auth in (("auth on, signed in", True), ("auth off", False)):
        build = bench.build(use_auth=auth, use_cache=False)
        side = bench.service(build, label, bench.database(build), "")
        side.headers = sign_in(side.url) if auth else {}
        side.path = f"/api/v1/notes/{add_notes(side.url, 1, side.headers)}"
        sides.append(side)
    return Comparison("4 auth read", *sides, "<= 15 % slower", lambda c: c.ratio >= 1 / 1.15)


def vector_search(bench: Bench) -> Comparison:
    """Nearest neighbours of a text in 10 000 documents, against the same SQL on asyncpg."""
    build = bench.build(**NO_AUTH, use_pgvector=True, task_queue="none")
    database = bench.database(build)
    path = "/api/v1/documents/search?q=a+red+fox&limit=10"
    subject = bench.service(build, "pgvector, 10 000 documents", database, path)
    python = str(build.project / ".venv" / "bin" / "python")
    fill = FILL_CORPUS.format(package=build.package)
    prepared = run(build.project, python, "-c", fill, env={"DATABASE_URL": database}).stdout
    vector, ef_search = json.loads(prepared.strip().splitlines()[-1])
    baseline = bench.baseline(
        build, database, path, BENCH_VECTOR=json.dumps(vector), BENCH_EF_SEARCH=str(ef_search)
    )
    return Comparison("5 vector search", subject, baseline, "(figures only)", lambda c: True)


def routing(bench: Bench) -> Comparison:
    """The trivial endpoint registered after every route of the all-flags render, and before."""
    build = bench.build(**ALL_ON)
    last = bench.service(
        build, "after every route", bench.database(build), "/api/v1/bench-last/ping"
    )
    first = Side("before every route", last.url, last.pid, "/api/v1/bench/ping")
    return Comparison("routing", last, first, "(figures only)", lambda c: True)


def observability(bench: Bench) -> Comparison:
    """The trivial endpoint of the `--defaults` render with `use_observability` on and off."""
    sides = []
    for label, on in (("observability on", True), ("observability off", False)):
        build = bench.build(use_observability=on)
        sides.append(bench.service(build, label, bench.database(build), "/api/v1/bench/ping"))
    return Comparison("observability", *sides, "(figures only)", lambda c: True)


# Run with the project's interpreter: 10 000 random documents, the index built over them, and
# the query text's vector from the project's own embedder (the baseline searches with it).
FILL_CORPUS = """
import asyncio, json, os
import asyncpg
from {package}.core.config import Settings
from {package}.documents.embeddings import LocalEmbedder
from {package}.documents.index import INDEX_NAME, create_index_sql

async def main():
    settings = Settings()
    connection = await asyncpg.connect(os.environ["DATABASE_URL"])
    await connection.execute("TRUNCATE documents CASCADE")
    await connection.execute(f"DROP INDEX IF EXISTS {{INDEX_NAME}}")
    await connection.execute(
        "INSERT INTO documents (id, title, body, embedding, embedded_at) "
        "SELECT gen_random_uuid(), 'doc ' || n, '', vector, now() "
        "FROM generate_series(1, 10000) AS n, LATERAL ("
        "  SELECT array_agg(random() - 0.5)::vector AS vector"
        "  FROM generate_series(1, $1) WHERE n > 0) AS random_vector",
        settings.embedding_dimensions,
    )
    await connection.execute(create_index_sql(settings.embedding_metric))
    await connection.execute("ANALYZE documents")
    await connection.close()
    [vector] = LocalEmbedder(settings.embedding_dimensions).embed_sync(["a red fox"])
    print(json.dumps([vector, settings.vector_ef_search]))

asyncio.run(main())
"""

SCENARIOS: dict[str, Callable[[Bench], Comparison]] = {
    "stack": stack,
    "list": listing,
    "cached-read": cached_read,
    "auth-read": authenticated_read,
    "vector-search": vector_search,
    "observability": observability,
    "routing": routing,
}


def phase_probe_env(phases: Path, *, stock_pool: bool) -> dict[str, str]:
    """The environment that loads `phase_probe/sitecustomize.py` into a service's processes."""
    phases.mkdir(parents=True, exist_ok=True)
    env = {"PYTHONPATH": str(PHASE_PROBE), "KILN_PHASES": str(phases)}
    return env | ({"KILN_PHASES_STOCK_POOL": "1"} if stock_pool else {})


PHASES = ("queued", "rate_limit", "pool_wait", "statements", "close", "request")


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


def run_scenarios(
    names: Sequence[str],
    *,
    rounds: int,
    seconds: int,
    connections: int,
    service_env: dict[str, str] | None = None,
) -> list[Comparison]:
    """Each scenario with its own servers, measured A B A B, then stopped."""
    find_wrk()
    results = []
    for name in names:
        bench = Bench(service_env)
        try:
            comparison = SCENARIOS[name](bench)
            measure(
                [comparison.subject, comparison.baseline],
                rounds=rounds,
                seconds=seconds,
                connections=connections,
                script=bench.script,
            )
            results.append(comparison)
        finally:
            bench.close()
    return results
