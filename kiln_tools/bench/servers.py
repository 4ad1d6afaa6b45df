"""The servers of a benchmark run, each on SERVER_CORE: a rendered service's production server
with the probe routes, or the bare FastAPI baseline on the same interpreter and uvicorn options.

`Bench` holds one run's renders, databases and servers, and stops them all with it.
"""

from __future__ import annotations

import os
import re
import signal
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kiln_tools.bench.wrk import SCRIPTS, Side, write_script
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

SERVER_CORE = "0"
# The package the Python files of `scripts/` import: the one every render of the bench has.
SCRIPT_PACKAGE = "kiln_demo"
PROBE_MODULE = "kiln_bench_probe"
BASELINE_APP = "baseline_app:app"
SYNC_PEER_APP = "sync_peer_app:app"
KILN_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def sync_peer_requirements() -> list[str]:
    """What the sync peer adds to a render's libraries, pinned once in Kiln's pyproject.toml."""
    groups = tomllib.loads(KILN_PYPROJECT.read_text())["dependency-groups"]
    return [str(requirement) for requirement in groups["bench-sync-peer"]]


def script_for(name: str, package: str) -> str:
    """A Python file of `scripts/`, importing `package` where it imports SCRIPT_PACKAGE."""
    return re.sub(rf"\b{SCRIPT_PACKAGE}\b", package, (SCRIPTS / name).read_text())


def write_probe(build: Build) -> Path:
    """The probe module beside the render, never inside it; the folder to put on PYTHONPATH."""
    folder = build.project.parent / "bench-probe"
    folder.mkdir(exist_ok=True)
    (folder / f"{PROBE_MODULE}.py").write_text(script_for(f"{PROBE_MODULE}.py", build.package))
    return folder


def python_path(*folders: str | Path | None) -> str:
    """PYTHONPATH of these folders, in this order, those given."""
    return os.pathsep.join(str(folder) for folder in folders if folder)


def probe_server(
    build: Build, probe: Path, env: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The command (less `--port`) and environment of the service with the probe routes: the
    render's interpreter runs the probe module, which serves the service's app factory with them
    on the production server's configuration. `-P`: the render's root stays off sys.path, as it
    is off it for `<package> serve`."""
    python = str(build.project / ".venv" / "bin" / "python")
    env = {**env, "PYTHONPATH": python_path(probe, env.get("PYTHONPATH"))}
    return [python, "-P", "-m", PROBE_MODULE], env


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
        self.script = write_script(Path(self.workshop.root) / "report.lua")

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
        return build

    def database(self, build: Build) -> str:
        name = f"kiln_bench_{len(self._databases)}_{os.getpid()}"
        server = self.workshop.server_for(build.combination)
        create_database(name, server)
        self._databases.append((name, server))
        return server(name)

    def service_environment(self, database_url: str) -> dict[str, str]:
        """A rendered service's settings in a run: production, on the machine's services."""
        return {
            **PRODUCTION,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "LOG_LEVEL": "WARNING",  # a benchmark's requests would fill a pipe nobody reads
            # Limits still counted (their cost is part of the stack), never reached by wrk.
            "RATE_LIMIT_DEFAULT": "1000000000/minute",
            # Redis keeps the counters from run to run: a second run within the hour would
            # find the 10 registrations an hour one address may make already spent.
            "REGISTER_RATE_LIMIT": "1000000000/hour",
            "LOGIN_RATE_LIMIT": "1000000000/minute",
            **self.service_env,
        }

    def service(self, build: Build, label: str, database_url: str, path: str) -> Side:
        """The rendered service's production server with the probe routes, migrated."""
        env = self.service_environment(database_url)
        cli = str(build.project / ".venv" / "bin" / build.package)
        run(build.project, cli, "db", "upgrade", env=env)
        command, env = probe_server(build, write_probe(build), env)
        url, pid = self._stack.enter_context(
            pinned_server(build.project, command, env, "/health/ready", self.log(label))
        )
        return Side(label, url, pid, path)

    def baseline(self, build: Build, database_url: str, path: str, **env: str) -> Side:
        """The bare app, on the same interpreter, libraries and uvicorn options as `build`."""
        return self._script_app(build, BASELINE_APP, "bare FastAPI", path, database_url, env)

    def sync_peer(self, build: Build, database_url: str, path: str, **env: str) -> Side:
        """The sync SQLModel peer on `build`'s interpreter, libraries and uvicorn options, with
        SQLModel and psycopg added to this run's copy of the render."""
        python = str(build.project / ".venv" / "bin" / "python")
        run(build.project, "uv", "pip", "install", "--python", python, *sync_peer_requirements())
        label = "sync SQLModel peer"
        return self._script_app(build, SYNC_PEER_APP, label, path, database_url, env)

    def _script_app(
        self,
        build: Build,
        app: str,
        label: str,
        path: str,
        database_url: str,
        env: Mapping[str, str],
    ) -> Side:
        """An app of `scripts/`, served by `build`'s uvicorn with the production options."""
        python = str(build.project / ".venv" / "bin" / "python")
        command = [
            python, "-m", "uvicorn", app, "--app-dir", str(SCRIPTS),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-server-header",
        ]  # fmt: skip
        url, pid = self._stack.enter_context(
            pinned_server(
                build.project,
                command,
                {"DATABASE_URL": database_url, **env},
                "/api/v1/bench/ping",
                self.log(label),
            )
        )
        return Side(label, url, pid, path)
