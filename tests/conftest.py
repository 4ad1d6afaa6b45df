"""Fixtures shared by the template tests, and the matrix parametrisation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln_tools.matrix import Combination, combinations, dimensions, pairwise
from kiln_tools.rendering import snapshot_template
from kiln_tools.steps import Workshop, check_many


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--matrix",
        choices=("full", "pairwise"),
        default="full",
        help="full: every flag combination (CI); pairwise: a subset covering every pair of values",
    )
    parser.addoption(
        "--matrix-jobs",
        type=int,
        default=3,
        help="combinations checked at once (default 3: on 2 cores the suites wait on workers, "
        "sockets and sleeps, and two at once left the cores 30 % idle)",
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


@pytest.fixture(scope="session")
def matrix_outcomes(request: pytest.FixtureRequest, workshop: Workshop) -> dict[str, str | None]:
    """Every combination selected in this session, checked up front `--matrix-jobs` at a time;
    each test of the matrix then reports its own outcome (None: passed)."""
    chosen: list[Combination] = [
        item.callspec.params["combination"]
        for item in request.session.items
        if "combination" in getattr(getattr(item, "callspec", None), "params", {})
    ]
    jobs = request.config.getoption("matrix_jobs")
    return check_many(workshop, chosen, dimensions(), jobs=jobs)
