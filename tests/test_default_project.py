"""What only the `--defaults` render must also show: it works on a bare machine.

Its matrix case (tests/test_matrix.py) runs lint, types, imports, migrations, the production boot
and its suite on the machine's PostgreSQL. Here the same build proves the README's commands with
no database and no Redis configured (embedded PostgreSQL and Redis), the lock file, and
production's refusal.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from kiln_tools.matrix import default_combination, dimensions
from kiln_tools.steps import Workshop, sync
from kiln_tools.tooling import free_port, run, start_server, wait_for_http

pytestmark = pytest.mark.slow
PACKAGE = "kiln_demo"


@pytest.fixture(scope="module")
def project(workshop: Workshop) -> Path:
    """The `--defaults` render, the same build as its matrix case."""
    build = workshop.build(default_combination(), dimensions())
    sync(build)
    return build.project


def test_the_lock_file_was_generated_at_copy_time(project: Path) -> None:
    assert (project / "uv.lock").is_file()
    run(project, "uv", "lock", "--check")


def test_the_generated_suite_passes_with_its_coverage_gate_on_embedded_services(
    project: Path,
) -> None:
    # No DATABASE_URL, no REDIS_URL: the suite starts its own servers, as on a bare machine.
    output = run(project, "uv", "run", "pytest", "-q", "-p", "no:cacheprovider").stdout
    assert "Required test coverage of 85" in output
    assert " passed" in output
    assert " failed" not in output


def test_production_refuses_insecure_settings_at_boot(project: Path) -> None:
    server = start_server(
        project,
        [str(project / ".venv/bin" / PACKAGE), "serve", "--port", str(free_port())],
        {"ENVIRONMENT": "production", "SECRET_KEY": "short", "DEBUG": "true"},
    )
    output = server.communicate(timeout=60)[0]
    assert server.returncode != 0
    for problem in ("SECRET_KEY", "DEBUG is on", "no database configured", "no Redis configured"):
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
        # Every dependency is up, the embedded Redis included; not merely "degraded".
        assert json.loads(body)["status"] == "ok", body
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
