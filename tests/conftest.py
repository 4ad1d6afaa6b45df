"""Fixtures shared by the template tests, and the matrix parametrisation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiln_tools.matrix import Combination, dimensions, full_matrix, pairwise
from kiln_tools.rendering import snapshot_template
from kiln_tools.steps import Capacity, Workshop, check_many, step_table


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--matrix",
        choices=("full", "pairwise"),
        default="full",
        help="full: every flag combination on the default Python and samples on the others (CI); "
        "pairwise: a subset covering every pair of values",
    )
    parser.addoption(
        "--matrix-jobs",
        type=int,
        default=3,
        help="combinations checked at once while the other tests run beside them (default 3: on "
        "2 cores the suites wait on workers, sockets and sleeps, and two at once left the cores "
        "30 %% idle; four beside the update tests took a sample's suite past 900 s)",
    )
    parser.addoption(
        "--matrix-jobs-alone",
        type=int,
        default=4,
        help="combinations checked at once once the other tests are done (default 4)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "combination" in metafunc.fixturenames:
        dims = dimensions()
        chosen = (
            pairwise(dims)
            if metafunc.config.getoption("matrix") == "pairwise"
            else full_matrix(dims)
        )
        metafunc.parametrize("combination", chosen, ids=[c.id for c in chosen])


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def workshop() -> Iterator[Workshop]:
    """Renders each combination once per session; a build id is one folder, used by one test
    module or by the matrix (they run side by side)."""
    shop = Workshop()
    yield shop
    shop.close()


def is_matrix_case(item: pytest.Item) -> bool:
    return "combination" in getattr(getattr(item, "callspec", None), "params", {})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The matrix's tests last: the matrix runs from the first test on, beside the others
    (`matrix_run`), and its tests only report its outcomes."""
    items.sort(key=is_matrix_case)


type MatrixOutcomes = dict[str, str | None]


@dataclass
class MatrixRun:
    workshop: Workshop
    chosen: list[Combination]
    capacity: Capacity
    outcomes: Future[MatrixOutcomes]
    started: float


matrix_run_key = pytest.StashKey[MatrixRun]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Each combination's step times, so CI's log shows where the matrix spent its time."""
    run = config.stash.get(matrix_run_key, None)
    if run is None or not run.outcomes.done() or run.outcomes.exception() is not None:
        return
    outcomes = run.outcomes.result()
    rows = []
    for combination in run.chosen:
        build = run.workshop.built(combination.id)
        outcome = outcomes.get(combination.id, "not run")
        verdict = "passed" if outcome is None else "failed"
        rows.append((combination.id, build.durations if build else {}, verdict))
    terminalreporter.section("matrix step times")
    for line in step_table(rows, time.perf_counter() - run.started):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def matrix_run(request: pytest.FixtureRequest) -> Iterator[Future[MatrixOutcomes] | None]:
    """Every combination selected in this session, checked `--matrix-jobs` at a time in a thread
    started before the first test. The other tests run meanwhile: on their own they kept one core
    of the two busy at most, for a quarter of the run. Once they are done, `--matrix-jobs-alone`
    at a time (`matrix_outcomes`)."""
    chosen: list[Combination] = [
        item.callspec.params["combination"]
        for item in request.session.items
        if is_matrix_case(item)
    ]
    if not chosen:
        yield None
        return
    workshop: Workshop = request.getfixturevalue("workshop")
    capacity = Capacity(request.config.getoption("matrix_jobs"))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="matrix") as runner:
        outcomes = runner.submit(check_many, workshop, chosen, dimensions(), jobs=capacity)
        run = MatrixRun(workshop, chosen, capacity, outcomes, started)
        request.config.stash[matrix_run_key] = run
        yield outcomes


@pytest.fixture(scope="session")
def matrix_outcomes(request: pytest.FixtureRequest) -> MatrixOutcomes:
    """Each combination's outcome (None: passed), once the whole matrix has run.

    The matrix's tests come last, so the first to ask means the other tests are done.
    """
    run = request.config.stash[matrix_run_key]
    run.capacity.raise_to(request.config.getoption("matrix_jobs_alone"))
    return run.outcomes.result()
