"""Every offered Python, runnable here: the host's, or a provisioned root's (kiln_tools.pythons).

The `slow` ones run against the machine as `.ci/provision` left it (a version the host lacks has
its root) and its PostgreSQL; the others need neither.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kiln_tools import pythons
from kiln_tools.matrix import (
    combinations,
    default_combination,
    dimensions,
    full_matrix,
    select,
)
from kiln_tools.rendering import REPO_ROOT, after_update_commands, copy_tasks
from kiln_tools.tooling import project_command

NEVER_OFFERED = "3.99"  # a version no host has and no root is built for


def kiln_python_run(version: str, project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["uv", "run", "kiln", "python", "run", version, str(project), "--", *command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_every_offered_python_runs_here() -> None:
    for version in pythons.offered():
        assert pythons.on_host(version) or pythons.is_provisioned(version), version


@pytest.mark.slow
@pytest.mark.parametrize("version", pythons.offered())
def test_a_command_runs_under_the_version_asked_for(version: str, tmp_path: Path) -> None:
    """In the project's folder, under that Python, with the machine's PostgreSQL on 127.0.0.1,
    the host's /tmp at its own path, and the command's exit status passed back; in a root, in a
    mount namespace of its own, which leaves nothing mounted behind."""
    (tmp_path / "from-the-host").write_text("seen\n")
    script = (
        "import os, platform, socket, sys; socket.create_connection(('127.0.0.1', 5432)).close();"
        "print(platform.python_version(), open('from-the-host').read().strip(),"
        " os.readlink('/proc/self/ns/mnt')); sys.exit(3)"
    )
    python_command = ("uv", "run", "--no-project", "python", "-c", script)
    completed = kiln_python_run(version, tmp_path, *python_command)
    assert completed.returncode == 3, completed.stderr
    python, seen, namespace = completed.stdout.split()
    assert python.startswith(f"{version}."), completed.stdout
    assert seen == "seen"
    in_a_root = not pythons.on_host(version)
    assert (namespace != os.readlink("/proc/self/ns/mnt")) == in_a_root
    assert str(pythons.ROOTS) not in Path("/proc/self/mounts").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("version", pythons.offered())
def test_each_root_is_current_so_provisioning_again_builds_nothing(version: str) -> None:
    """Never provisions a root here: a rebuild would pull it from under the matrix's commands."""
    if pythons.on_host(version):
        assert pythons.provision(version) is None  # nothing to build, nothing touched
    else:
        assert pythons.is_current(version)


@pytest.mark.parametrize("version", pythons.offered())
def test_a_project_runs_under_the_python_it_names(version: str, tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text(f"{version}\n")
    command = project_command(tmp_path, ["uv", "run", "pytest"])
    if pythons.on_host(version):
        assert Path(command[0]).name == "uv"
        assert command[1:] == ["run", "pytest"]
    else:
        entering = [sys.executable, "-P", "-m", "kiln_tools.in_root"]
        root = str(pythons.root_for(version))
        assert command == [*entering, root, str(tmp_path), "uv", "run", "pytest"]


def test_a_version_with_no_root_says_to_provision(tmp_path: Path) -> None:
    with pytest.raises(pythons.MissingPythonError, match=r"run \.ci/provision"):
        pythons.command_in(tmp_path, ["true"], NEVER_OFFERED, roots=tmp_path)


def test_an_unoffered_version_is_refused_with_the_offered_ones(tmp_path: Path) -> None:
    completed = kiln_python_run(NEVER_OFFERED, tmp_path, "true")
    assert completed.returncode == 2
    assert f"choose one of {', '.join(pythons.offered())}" in completed.stderr


def test_a_missing_project_folder_is_refused(tmp_path: Path) -> None:
    completed = kiln_python_run(pythons.default(), tmp_path / "no-such-service", "true")
    assert completed.returncode == 2
    assert "is not a folder" in completed.stderr


def test_copier_tasks_for_a_copy_are_those_whose_when_says_copy() -> None:
    tasks = [
        {"command": "uv lock --quiet", "when": "{{ _copier_operation == 'copy' }}"},
        {"command": "echo updated", "when": "{{ _copier_operation == 'update' }}"},
        {"command": "echo always"},
    ]
    assert copy_tasks(yaml.safe_dump({"_tasks": tasks})) == ["uv lock --quiet", "echo always"]
    assert copy_tasks((REPO_ROOT / "copier.yml").read_text()) == ["uv lock --quiet"]


def test_after_update_commands_are_the_migrations_whose_when_says_after() -> None:
    migrations = [
        {"command": "echo before", "when": "{{ _stage == 'before' }}"},
        {"command": "uv lock --quiet", "when": "{{ _stage == 'after' }}"},
        {"command": "echo every stage"},
    ]
    chosen = after_update_commands(yaml.safe_dump({"_migrations": migrations}))
    assert chosen == ["uv lock --quiet", "echo every stage"]
    assert after_update_commands((REPO_ROOT / "copier.yml").read_text()) == [
        'uv lock --quiet || echo "Kiln: uv.lock is not refreshed. Resolve pyproject.toml, then run:'
        ' uv lock" >&2'
    ]


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
    on_the_default = select(matrix, flags=[f"python_version={pythons.default()}"])
    assert on_the_default == everything


def test_github_ci_installs_exactly_the_offered_pythons() -> None:
    workflow = (REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text()
    installs = re.findall(r"uv python install (.+)", workflow)
    assert len(installs) == 3, "the lint, matrix and default-project jobs each install them"
    for line in installs:
        assert line.split() == pythons.offered()
