"""docs/traceability.md is complete and true: every file and test it names exists in a render."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from kiln_tools.rendering import REPO_ROOT, render

TABLE = REPO_ROOT / "docs" / "traceability.md"
CATALOGUE_SIZES = {
    "A": 12, "B": 7, "C": 7, "D": 10, "E": 7, "F": 14,
    "G": 5, "H": 7, "I": 6, "J": 4, "K": 13, "L": 10,
}  # fmt: skip
STATUSES = {"embodied", "planned", "declined", "deferred", "documented"}


@dataclass(frozen=True)
class Row:
    id: str
    flags: str
    status: str
    files: list[str]
    tests: list[str]
    notes: str


def _rows() -> list[Row]:
    rows = []
    for line in TABLE.read_text().splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) != 7 or not re.fullmatch(r"[A-L]\d\d", cells[0]):
            continue
        files = re.findall(r"`([^`]+)`", cells[4])
        tests = re.findall(r"`([^`]+)`", cells[5])
        rows.append(Row(cells[0], cells[2], cells[3], files, tests, cells[6]))
    return rows


ROWS = _rows()


def test_every_catalogue_id_appears_exactly_once() -> None:
    expected = {
        f"{letter}{n:02d}" for letter, size in CATALOGUE_SIZES.items() for n in range(1, size + 1)
    }
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


def test_every_row_is_embodied_or_explains_itself() -> None:
    for row in ROWS:
        assert row.status in STATUSES, row.id
        if row.status == "embodied":
            assert row.files, row.id
            assert row.tests, row.id
        else:
            assert row.notes, f"{row.id} is {row.status} without a reason"


def test_planned_rows_wait_for_a_flag_that_does_not_exist_yet() -> None:
    questions = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    flags = {name for name in questions if name.startswith(("use_", "task_queue"))}
    for row in ROWS:
        if row.status == "planned" and row.flags != "all":
            assert not flags & {f"use_{row.flags}"}, f"{row.id}: its flag exists, embody it"


# The default render, and one per value a default leaves out (the other task queue, pgvector,
# no observability, auth without the cache).
RENDERS = {
    "default": {},
    "celery": {"task_queue": "celery"},
    "pgvector": {"use_pgvector": True},
    "noobservability": {"use_observability": False},
    "nocache": {"use_cache": False},
}


@pytest.fixture(scope="module")
def projects(template: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("trace")
    return [
        render(template, root / name, answers, run_tasks=False) for name, answers in RENDERS.items()
    ]


def _package(project: Path) -> str:
    return next(path.name for path in (project / "src").iterdir() if path.is_dir())


def _exists(projects: list[Path], name: str) -> bool:
    paths = (project / name.replace("{pkg}", _package(project)) for project in projects)
    return any(path.exists() for path in paths)


def test_named_files_exist_in_a_rendered_project(projects: list[Path]) -> None:
    missing = [
        f"{row.id}: {name}"
        for row in ROWS
        for name in row.files
        if name != "uv.lock" and not _exists(projects, name)
    ]
    assert not missing


def test_named_tests_exist_in_a_rendered_project(projects: list[Path]) -> None:
    missing = []
    for row in ROWS:
        for test in row.tests:
            path, _, name = test.partition("::")
            sources = [project / path for project in projects]
            if not any(
                source.is_file() and re.search(rf"def {name}\(", source.read_text())
                for source in sources
            ):
                missing.append(f"{row.id}: {test}")
    assert not missing


def test_each_embodied_id_is_named_by_a_test_function(projects: list[Path]) -> None:
    """Each embodied ID appears in the name of at least one generated test (test_<id>_...)."""
    sources = [path for project in projects for path in (project / "tests").rglob("*.py")]
    names = " ".join(re.findall(r"def (test_\w+)\(", "\n".join(p.read_text() for p in sources)))
    unnamed = [
        row.id
        for row in ROWS
        if row.status == "embodied" and not re.search(rf"test_(\w+_)?{row.id.lower()}_", names)
    ]
    assert not unnamed
