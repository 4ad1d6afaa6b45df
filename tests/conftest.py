"""Fixtures shared by the template tests, and the matrix parametrisation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln_tools.matrix import combinations, dimensions, pairwise
from kiln_tools.rendering import snapshot_template
from kiln_tools.steps import Workshop


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--matrix",
        choices=("full", "pairwise"),
        default="full",
        help="full: every flag combination (CI); pairwise: a subset covering every pair of values",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "combination" in metafunc.fixturenames:
        dims = dimensions()
        chosen = (
            pairwise(dims)
            if metafunc.config.getoption("matrix") == "pairwise"
            else combinations(dims)
        )
        metafunc.parametrize("combination", chosen, ids=[c.id for c in chosen])


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def workshop() -> Iterator[Workshop]:
    """Renders each combination once per session, shared by the matrix and the default tests."""
    shop = Workshop()
    yield shop
    shop.close()
