"""What every matrix combination must pass, as steps shared by pytest and `kiln matrix check`.

A `Build` is one rendered, installed project; the steps run in order and each either returns or
raises `AssertionError` with the command's output.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln_tools import checks
from kiln_tools.matrix import (
    Combination,
    Dimension,
    python_versions,
    suite_left_out_ids,
    trace_problems,
)
from kiln_tools.rendering import render, snapshot_template
from kiln_tools.tooling import (
    DatabaseUrl,
    PgvectorServer,
    create_database,
    drop_database,
    free_port,
    local_postgres,
    run,
    start_server,
    wait_for_http,
    wait_until_healthy,
)

PRODUCTION = {"ENVIRONMENT": "production", "SECRET_KEY": "p" * 48}
# The suites give their keys a prefix of their own, so parallel combinations share this server.
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Build:
    combination: Combination
    dimensions: list[Dimension]
    project: Path
    package: str
    database: str = ""
    # The server that holds its database: the machine's, or the workshop's pgvector one.
    server: DatabaseUrl = local_postgres
    pristine_problems: list[str] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.server(self.database)

    @property
    def services(self) -> dict[str, str]:
        """The machine's real services; a render without the cache flag ignores REDIS_URL."""
        return {"DATABASE_URL": self.database_url, "REDIS_URL": REDIS_URL}

    def command(self, *arguments: str) -> list[str]:
        """The project's installed console script, as the container runs it."""
        return [str(self.project / ".venv" / "bin" / self.package), *arguments]


def static_problems(build: Build) -> list[str]:
    problems = checks.stray_jinja(build.project) + checks.blank_line_debris(build.project)
    return problems + trace_problems(build.project, build.dimensions, build.combination)


def static(build: Build) -> None:
    """Judged on the render as it came out, before any tool wrote caches or reports into it."""
    assert not build.pristine_problems, build.pristine_problems


def sync(build: Build) -> None:
    run(build.project, "uv", "sync", "--locked")


def lint(build: Build) -> None:
    run(build.project, "uv", "run", "ruff", "check", "--no-fix", ".")
    run(build.project, "uv", "run", "ruff", "format", "--check", ".")
    run(build.project, "uv", "run", "bandit", "--quiet", "-c", "pyproject.toml", "-r", "src")


def types(build: Build) -> None:
    cache = mypy_cache(build)
    with exclusive(cache.with_name(f"{cache.name}.lock")):
        output = run(build.project, "uv", "run", "mypy", "--cache-dir", str(cache)).stdout
    assert "Success: no issues found" in output, output


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """One holder at a time, across threads and processes.

    Around a shared mypy cache: mypy reads a module's entry from several files at different
    times, and a run that rewrites them meanwhile (for another render's module of that name)
    hands it the other render's types: four at once, CI saw an auth render's `Document` without
    its `owner_id`.
    """
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mypy_cache(build: Build) -> Path:
    """One cache per set of global mypy options in a run, shared by those combinations.

    mypy re-checks every module, the standard library's included, when a global option differs
    from the cached one (Dramatiq's `untyped_calls_exclude`, say): one cache for all would have
    the Dramatiq and the other combinations undo each other's work. A module whose source differs
    (the project's own) is re-checked either way.
    """
    settings = tomllib.loads((build.project / "pyproject.toml").read_text())["tool"]["mypy"]
    global_options = {name: value for name, value in settings.items() if name != "overrides"}
    key = hashlib.sha256(json.dumps(global_options, sort_keys=True).encode()).hexdigest()[:12]
    return build.project.parents[1] / f"mypy-cache-{key}"


def imports_and_migrations(build: Build) -> None:
    """Every module imports; then upgrade, check, downgrade to base, upgrade, check.

    One process for both: each interpreter that imports the app costs about 3 s of CPU, more
    than the migrations themselves (five CLI processes took 23 s). The generated suite runs the
    `db` commands itself. With the services: importing a worker entry module builds its broker.
    """
    script = (
        f"import importlib, pkgutil, {build.package}\n"
        f"for m in pkgutil.walk_packages({build.package}.__path__, '{build.package}.'):\n"
        "    if '.migrations.' not in m.name and not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print('imported')\n"
        f"from {build.package}.core import migrations\n"
        f"from {build.package}.features import get_settings\n"
        f"from {build.package}.core.embedded import resolve_database_url\n"
        "url = resolve_database_url(get_settings())\n"
        "migrations.upgrade(url)\n"
        "migrations.check(url)\n"
        "migrations.downgrade(url, 'base')\n"
        "migrations.upgrade(url)\n"
        "migrations.check(url)\n"
        "print('migrated')"
    )
    output = run(build.project, "uv", "run", "python", "-c", script, env=build.services).stdout
    assert "imported" in output, output
    assert "migrated" in output, output


def boot(build: Build) -> None:
    """The production server starts against the real services and is ready."""
    port = free_port()
    env = {**build.services, **PRODUCTION}
    server = start_server(build.project, build.command("serve", "--port", str(port)), env)
    try:
        status, body = wait_until_healthy(f"http://127.0.0.1:{port}/health/ready")
        assert status == 200, body
        assert json.loads(body)["status"] == "ok", body
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    # uvicorn re-raises the signal after a graceful shutdown, so the status reports SIGTERM.
    assert server.returncode in {0, -signal.SIGTERM}, output
    assert '"event": "shutdown_complete"' in output, output


@contextmanager
def running_service(
    project: Path, package: str, database: str, settings: Mapping[str, str] | None = None
) -> Iterator[str]:
    """The production server of a render, migrated, ready; stopped afterwards.

    `settings` are more of its environment variables: passed here, never through `os.environ`,
    which the matrix's thread copies into every process it starts meanwhile.
    """
    create_database(database)
    env: Mapping[str, str] = {
        **PRODUCTION,
        "DATABASE_URL": local_postgres(database),
        "REDIS_URL": REDIS_URL,
        # Quiet: a benchmark's or a scrape's requests would fill the pipe nobody reads.
        "LOG_LEVEL": "WARNING",
        **(settings or {}),
    }
    command = str(project / ".venv" / "bin" / package)
    port = free_port()
    server = None
    try:
        run(project, command, "db", "upgrade", env=env)
        server = start_server(project, [command, "serve", "--port", str(port)], env)
        status, body = wait_for_http(f"http://127.0.0.1:{port}/health/ready")
        assert status == 200, body
        yield f"http://127.0.0.1:{port}"
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=30)
        drop_database(database)


def checks_deploy(combination: Combination) -> bool:
    """Whether a combination's suite also runs its deploy checks (tests/deploy).

    The manifests change with the task queue and observability only, and the checks of their
    settings with auth and the cache too: the default Python's combinations where pgvector is
    the opposite of auth hold every value of those four, pgvector both ways and the `--defaults`
    combination, in half the suites.
    The samples on older Pythons leave them out, since kubectl and the validators read the same
    YAML on every Python.
    """
    answers = combination.answers
    on_default_python = "python_version" not in answers
    return on_default_python and answers.get("use_pgvector") != answers.get("use_auth")


def runs_whole_suite(combination: Combination) -> bool:
    """Whether a combination runs its whole generated suite: all but the default Python's
    combinations outside `matrix.full_suite_ids`."""
    return combination.id not in suite_left_out_ids()


def suite(build: Build) -> None:
    """The generated test suite against the machine's PostgreSQL, where `runs_whole_suite` says
    so; its deploy checks where `checks_deploy` says so (each overlay of deploy/kubernetes
    rendered by kubectl and validated), which docs/deploy.md runs apart, with the `kubernetes`
    group: one pytest process rather than two saves a start-up of the service's imports.

    Coverage is measured, and its gate checked, on the default Python only: elsewhere it runs on
    the C tracer, which doubled a sample's suite (579 s against 250-320 s in CI), and the
    code and tests it measures are the same on every Python.
    """
    whole = runs_whole_suite(build.combination)
    deploy = checks_deploy(build.combination)
    if not whole and not deploy:
        return
    on_default_python = "python_version" not in build.combination.answers
    selection = ["--group", "kubernetes"] if deploy else []
    markers = ["-m", "kubernetes or not kubernetes" if whole else "kubernetes"] if deploy else []
    paths = [] if whole else ["tests/deploy"]
    coverage = [] if whole and on_default_python else ["--no-cov"]
    output = run(
        build.project,
        "uv", "run", *selection, "pytest", "-q", "-p", "no:cacheprovider", *markers, *coverage,
        *paths,
        env=build.services,
        # A suite on the C tracer took up to 579 s four at a time in CI: the limit catches a
        # hang, not a busy machine.
        timeout=1800,
    ).stdout  # fmt: skip
    if not coverage:
        assert re.search(r"Required test coverage of \d+(\.\d+)?% reached", output), output[-2000:]
    assert " passed" in output, output[-2000:]
    assert " failed" not in output
    if deploy:
        assert " deselected" not in output, output[-2000:]  # the deploy checks ran too


STEPS: list[tuple[str, Callable[[Build], None]]] = [
    ("static", static),
    ("sync", sync),
    ("lint", lint),
    ("types", types),
    ("imports+migrations", imports_and_migrations),
    ("boot", boot),
    ("suite", suite),
]


def step_table(rows: Sequence[tuple[str, Mapping[str, float], str]], wall: float) -> list[str]:
    """Lines of a table of each combination's step times, `rows` as (id, durations, outcome).

    Printed after every matrix run, by `kiln matrix check` and by pytest, so a CI log shows
    where its time went.
    """
    names = ["render", *(name for name, _ in STEPS)]
    width = max([32, *(len(combination_id) + 1 for combination_id, _, _ in rows)])
    columns = {name: max(11, len(name) + 2) for name in names}
    lines = [f"{'combination':{width}}" + "".join(f"{n:>{columns[n]}}" for n in names) + "  result"]
    totals = dict.fromkeys(names, 0.0)
    for combination_id, durations, outcome in rows:
        cells = ""
        for name in names:
            totals[name] += durations.get(name, 0.0)
            cell = f"{durations[name]:.1f}s" if name in durations else "-"
            cells += f"{cell:>{columns[name]}}"
        lines.append(f"{combination_id:{width}}{cells}  {outcome}")
    total_cells = "".join(f"{f'{totals[n]:.1f}s':>{columns[n]}}" for n in names)
    lines.append(f"{'total (step time)':{width}}{total_cells}")
    lines.append(f"wall clock: {wall:.1f}s for {len(rows)} combination(s)")
    return lines


class Workshop:
    """Renders each combination once (from one snapshot of the template) into a private folder.

    Not under pytest's basetemp: the generated suites run pytest too, which resets
    /tmp/pytest-of-<user> to mode 0700 and would lock an embedded PostgreSQL (its own system
    user when started by root) out of its data directory. The pgvector combinations share one
    such server, here too: the machine's PostgreSQL has no pgvector.
    """

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="kiln-matrix-")
        self.root = Path(self._folder.name)
        self.root.chmod(0o755)
        self.template = snapshot_template(self.root / "template")
        self.pgvector = PgvectorServer(self.root / "pgvector")
        self._builds: dict[str, Build] = {}
        # The matrix builds in threads of its own while other tests build too: one render per id.
        self._locks_lock = threading.Lock()
        self._build_locks: dict[str, threading.Lock] = {}

    def server_for(self, combination: Combination) -> DatabaseUrl:
        """The PostgreSQL a combination's database lives on."""
        return self.pgvector.url if combination.answers.get("use_pgvector") else local_postgres

    def build(
        self,
        combination: Combination,
        dims: list[Dimension],
        extra: Mapping[str, Any] | None = None,
    ) -> Build:
        """Rendered with tasks (uv.lock) once per combination; the render time is recorded."""
        with self._locks_lock:
            lock = self._build_locks.setdefault(combination.id, threading.Lock())
        with lock:
            return self._build_once(combination, dims, extra)

    def _build_once(
        self,
        combination: Combination,
        dims: list[Dimension],
        extra: Mapping[str, Any] | None,
    ) -> Build:
        if combination.id not in self._builds:
            started = time.perf_counter()
            destination = self.root / combination.id / "project"
            render(self.template, destination, {**combination.answers, **(extra or {})})
            package = next(p.name for p in (destination / "src").iterdir() if p.is_dir())
            build = Build(
                combination, dims, destination, package, server=self.server_for(combination)
            )
            build.pristine_problems = static_problems(build)
            build.durations["render"] = time.perf_counter() - started
            self._builds[combination.id] = build
        return self._builds[combination.id]

    def built(self, combination_id: str) -> Build | None:
        """The build of that id, if it was rendered in this workshop."""
        return self._builds.get(combination_id)

    def close(self) -> None:
        for build in self._builds.values():
            if build.database:
                drop_database(build.database, build.server)
        self.pgvector.stop()
        self._folder.cleanup()


def check(build: Build, *, on_step: Callable[[str, float, bool], None] | None = None) -> None:
    """Run every step in order on a build with its own database; stop at the first failure."""
    # Its own database: combinations (and concurrent runs) never share one.
    safe_id = re.sub(r"\W", "_", build.combination.id)[:40]
    build.database = f"kiln_{safe_id}_{os.getpid()}"
    create_database(build.database, build.server)
    for name, step in STEPS:
        started = time.perf_counter()
        try:
            step(build)
        except BaseException:
            build.durations[name] = time.perf_counter() - started
            if on_step:
                on_step(name, build.durations[name], False)
            raise
        build.durations[name] = time.perf_counter() - started
        if on_step:
            on_step(name, build.durations[name], True)


class Capacity:
    """How many combinations may be checked at once: a limit a run may raise as it goes (when the
    tests beside the matrix are done, their cores are the matrix's)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._running = 0
        self._changed = threading.Condition()

    def raise_to(self, limit: int) -> None:
        with self._changed:
            self._limit = max(self._limit, limit)
            self._changed.notify_all()

    def acquire(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._running < self._limit)
            self._running += 1

    def release(self) -> None:
        with self._changed:
            self._running -= 1
            self._changed.notify_all()


def check_many(
    workshop: Workshop,
    chosen: Sequence[Combination],
    dims: list[Dimension],
    *,
    jobs: int | Capacity,
    on_step: Callable[[str, str, float, bool], None] | None = None,
) -> dict[str, str | None]:
    """Check combinations `jobs` at a time; each id maps to None (passed) or why it failed.

    The steps mostly wait on subprocesses and PostgreSQL, so threads keep the cores busy. They
    start in `longest_first` order, each as soon as the capacity has room.
    """
    capacity = jobs if isinstance(jobs, Capacity) else Capacity(jobs)

    def one(combination: Combination) -> str | None:
        try:
            build = workshop.build(combination, dims)
            if on_step is None:
                progress = None
            else:
                on_step(combination.id, "render", build.durations["render"], True)

                def progress(step: str, seconds: float, ok: bool) -> None:
                    on_step(combination.id, step, seconds, ok)

            check(build, on_step=progress)
        except AssertionError as failure:
            return str(failure)
        finally:
            capacity.release()
        return None

    started: dict[str, Future[str | None]] = {}
    with ThreadPoolExecutor(max_workers=max(len(chosen), 1)) as pool:
        for combination in longest_first(chosen, dims):
            capacity.acquire()
            started[combination.id] = pool.submit(one, combination)
    return {combination.id: started[combination.id].result() for combination in chosen}


def longest_first(chosen: Sequence[Combination], dims: Sequence[Dimension]) -> list[Combination]:
    """The order to start them in: the likely longest first, so that a run does not end with one
    long suite alone on the cores.

    Weights from CI's table of step times (docs/development.md): a Python other than the default
    (its suites took 120-579 s, against 43-320 s), then a whole suite (`runs_whole_suite`); a choice
    other than `none` (a task queue: workers, the slowest tests) added about 80 s to a suite, and
    each yes/no flag 15-40 s.
    """
    _, default_python = python_versions()

    def cost(combination: Combination) -> tuple[bool, bool, int]:
        python = str(combination.answers.get("python_version", default_python))
        weight = 0
        for dimension in dims:
            value = combination.answers.get(dimension.name, dimension.default)
            if value is True:
                weight += 1
            elif isinstance(value, str) and value != "none":
                weight += 3
        return python != default_python, runs_whole_suite(combination), weight

    return sorted(chosen, key=cost, reverse=True)
