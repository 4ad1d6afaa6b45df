"""Every offered Python, runnable here: the host's, or a provisioned root's (kiln_tools.pythons).

These run against the machine as `.ci/provision` left it: a version the host lacks has its root.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from kiln_tools import pythons
from kiln_tools.matrix import combinations, default_combination, dimensions, full_matrix
from kiln_tools.rendering import REPO_ROOT


def kiln_python_run(version: str, project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["uv", "run", "kiln", "python", "run", version, str(project), "--", *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_offered_python_runs_here() -> None:
    for version in pythons.offered():
        assert pythons.on_host(version) or pythons.is_provisioned(version), version


@pytest.mark.parametrize("version", pythons.offered())
def test_a_command_runs_under_the_version_asked_for(version: str, tmp_path: Path) -> None:
    """In the project's folder, under that Python, with the machine's PostgreSQL on 127.0.0.1,
    the host's /tmp at its own path, and the command's exit status passed back."""
    (tmp_path / "from-the-host").write_text("seen\n")
    script = (
        "import platform, socket, sys; socket.create_connection(('127.0.0.1', 5432)).close();"
        "print(platform.python_version(), open('from-the-host').read().strip()); sys.exit(3)"
    )
    python_command = ("uv", "run", "--no-project", "python", "-c", script)
    completed = kiln_python_run(version, tmp_path, *python_command)
    assert completed.returncode == 3, completed.stderr
    python, seen = completed.stdout.split()
    assert python.startswith(f"{version}."), completed.stdout
    assert seen == "seen"
    # A root's mounts lived in the command's own namespace, and went with it.
    assert str(pythons.ROOTS) not in Path("/proc/self/mounts").read_text()


def test_an_unoffered_version_is_refused_with_the_offered_ones(tmp_path: Path) -> None:
    completed = kiln_python_run("3.10", tmp_path, "true")
    assert completed.returncode == 2
    assert f"choose one of {', '.join(pythons.offered())}" in completed.stderr


def test_a_version_with_no_root_says_to_provision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pythons, "on_host", lambda version: False)
    monkeypatch.setattr(pythons, "ROOTS", tmp_path / "no-roots-here")
    with pytest.raises(pythons.MissingPythonError, match=r"run \.ci/provision"):
        pythons.command_in(tmp_path, ["true"], pythons.default())


def test_the_matrix_runs_every_combination_on_the_default_and_samples_the_others() -> None:
    dims = dimensions()
    matrix = full_matrix(dims)
    everything = combinations(dims)
    assert matrix[: len(everything)] == everything
    assert all("python_version" not in c.answers for c in everything)  # the default one
    samples = matrix[len(everything) :]
    others = [version for version in pythons.offered() if version != pythons.default()]
    assert sorted({c.answers["python_version"] for c in samples}) == sorted(others)
    for version in others:
        ids = [c.id for c in samples if c.answers["python_version"] == version]
        prefix = f"py{version.replace('.', '')}-"
        assert ids == [
            f"{prefix}auth-cache-celery-pgvector-observability",
            f"{prefix}noauth-nocache-none-nopgvector-noobservability",
            f"{prefix}{default_combination().id}",
        ]
    assert len({c.id for c in matrix}) == len(matrix)


def test_github_ci_installs_exactly_the_offered_pythons() -> None:
    workflow = (REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text()
    installs = re.findall(r"uv python install (.+)", workflow)
    assert installs, "the workflow installs no Python"
    for line in installs:
        assert line.split() == pythons.offered()
    assert yaml.safe_load(workflow)  # still a workflow
