"""The default render, built and run as a user would: every command of its README and CI.

Slow by nature (it installs the project and runs its whole suite), so the steps share one render
and run in the order a newcomer would.
"""

from __future__ import annotations

import json
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rendering import render
from tests.tooling import (
    create_database,
    drop_database,
    free_port,
    run,
    start_server,
    wait_for_http,
)

pytestmark = pytest.mark.slow
PACKAGE = "kiln_demo"


@pytest.fixture(scope="module")
def project(template: Path) -> Iterator[Path]:
    # Not under pytest's basetemp: the generated suite runs pytest too, which resets
    # /tmp/pytest-of-<user> to mode 0700 and so locks the embedded PostgreSQL (it runs as its own
    # system user when started by root) out of its data directory.
    with tempfile.TemporaryDirectory(prefix="kiln-default-") as workspace:
        Path(workspace).chmod(0o755)
        project = render(template, Path(workspace) / "kiln-demo")
        run(project, "uv", "sync", "--locked")
        yield project


@pytest.fixture(scope="module")
def machine_database() -> Iterator[str]:
    """A database on the machine's PostgreSQL server, as DATABASE_URL."""
    name = f"kiln_default_{uuid.uuid4().hex[:8]}"
    yield create_database(name)
    drop_database(name)


def test_the_lock_file_was_generated_at_copy_time(project: Path) -> None:
    assert (project / "uv.lock").is_file()
    run(project, "uv", "lock", "--check")


def test_ruff_check_and_format_pass_without_fixing(project: Path) -> None:
    run(project, "uv", "run", "ruff", "check", "--no-fix", ".")
    run(project, "uv", "run", "ruff", "format", "--check", ".")


def test_mypy_strict_passes(project: Path) -> None:
    output = run(project, "uv", "run", "mypy").stdout
    assert "Success: no issues found" in output


def test_every_module_imports(project: Path) -> None:
    script = (
        f"import importlib, pkgutil, {PACKAGE}\n"
        f"for m in pkgutil.walk_packages({PACKAGE}.__path__, '{PACKAGE}.'):\n"
        "    if '.migrations.' not in m.name and not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "print('imported')"
    )
    assert "imported" in run(project, "uv", "run", "python", "-c", script).stdout


def test_the_generated_suite_passes_with_its_coverage_gate_on_embedded_postgres(
    project: Path,
) -> None:
    # No DATABASE_URL: the suite must start its own PostgreSQL, as on a bare machine.
    output = run(project, "uv", "run", "pytest", "-q", "-p", "no:cacheprovider").stdout
    assert "Required test coverage of 85" in output
    assert " passed" in output
    assert " failed" not in output


def test_migrations_round_trip_without_drift_on_the_machine_postgres(
    project: Path, machine_database: str
) -> None:
    env = {"DATABASE_URL": machine_database}
    for step in (["upgrade"], ["check"], ["downgrade", "base"], ["upgrade"], ["check"]):
        run(project, "uv", "run", PACKAGE, "db", *step, env=env)


def test_the_production_server_boots_and_is_ready(project: Path, machine_database: str) -> None:
    run(project, "uv", "run", PACKAGE, "db", "upgrade", env={"DATABASE_URL": machine_database})
    port = free_port()
    env = {
        "DATABASE_URL": machine_database,
        "ENVIRONMENT": "production",
        "SECRET_KEY": "p" * 48,
    }
    # The installed console script, as the container runs it (uv run would report the signal).
    command = [str(project / ".venv" / "bin" / PACKAGE), "serve", "--port", str(port)]
    server = start_server(project, command, env)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/health/ready")
        assert status == 200, body
        assert json.loads(body)["checks"]["database"]["status"] == "ok"
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    # uvicorn re-raises the signal after a graceful shutdown, so the status reports SIGTERM.
    assert server.returncode in {0, -signal.SIGTERM}, output
    assert '"event": "shutdown_complete"' in output


def test_production_refuses_insecure_settings_at_boot(project: Path) -> None:
    server = start_server(
        project,
        [str(project / ".venv/bin" / PACKAGE), "serve", "--port", str(free_port())],
        {"ENVIRONMENT": "production", "SECRET_KEY": "short", "DEBUG": "true"},
    )
    output = server.communicate(timeout=60)[0]
    assert server.returncode != 0
    for problem in ("SECRET_KEY", "DEBUG is on", "no database configured"):
        assert problem in output


def test_readme_run_command_works_on_a_bare_machine(project: Path) -> None:
    readme = (project / "README.md").read_text()
    assert f"uv run {PACKAGE} dev" in readme
    assert "uv run pytest" in readme
    port = free_port()
    server = start_server(project, ["uv", "run", PACKAGE, "dev", "--port", str(port)])
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/health/ready", seconds=90)
        assert status == 200, body
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
