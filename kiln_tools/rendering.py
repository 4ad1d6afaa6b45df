"""Render the working tree of this template, in-process and offline (no git clone)."""

from __future__ import annotations

import importlib.util
import shutil
import threading
from collections.abc import Iterator, Mapping, Set
from pathlib import Path

import copier
import jinja2
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PARTS = ("copier.yml", "template", "extensions", "migrations")
DEFAULT_ANSWERS: dict[str, object] = {
    "project_name": "Kiln Demo",
    "author_name": "Kiln Tests",
    "author_email": "tests@example.com",
}
# What a rendered project's walkers skip: what its tools made, not what the template rendered.
SKIPPED_PARTS = frozenset(
    {".venv", ".git", ".devdata", "__pycache__", ".mypy_cache", ".ruff_cache"}
)
# Copier changes the process's working directory while it renders and runs tasks, and the
# working directory is shared by every thread: renders in threads must take turns.
_RENDER_LOCK = threading.Lock()


def template_pins() -> dict[str, str]:
    """The versions the template renders (extensions/kiln.py's PINS), for Kiln's own checks that
    run the generated project's tools as its CI does."""
    extension = REPO_ROOT / "extensions" / "kiln.py"
    spec = importlib.util.spec_from_file_location("kiln_extension", extension)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.PINS)


def snapshot_template(destination: Path) -> Path:
    """Copy the template's working tree, without .git, so copier renders exactly what is here."""
    destination.mkdir(parents=True, exist_ok=True)
    for part in TEMPLATE_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(
                source, destination / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, destination / part)
    return destination


def rendered_files(project: Path, *, skipped: Set[str] = SKIPPED_PARTS) -> Iterator[Path]:
    """Every file of a rendered project, in path order, outside folders named in `skipped`
    (SKIPPED_PARTS, unless told otherwise): the one walk of a render every check shares."""
    for path in sorted(project.rglob("*")):
        if path.is_file() and not skipped.intersection(path.relative_to(project).parts):
            yield path


def render(
    template: Path,
    destination: Path,
    answers: Mapping[str, object] | None = None,
    *,
    run_tasks: bool = True,
) -> Path:
    """`copier copy`, tasks included unless told otherwise. Copier runs its tasks on the host:
    for a Python the host lacks, they run afterwards, in that Python's root, as Kiln runs every
    command of such a project."""
    # Imported here: the Python lookup reads copier.yml through the matrix, which needs REPO_ROOT
    # from this module.
    from kiln_tools import pythons

    data = {**DEFAULT_ANSWERS, **(answers or {})}
    version = str(data.get("python_version") or pythons.default())
    tasks_on_host = run_tasks and pythons.runs_on_host(version)
    with _RENDER_LOCK:
        copier.run_copy(
            str(template),
            str(destination),
            data=data,
            defaults=True,
            unsafe=True,
            skip_tasks=not tasks_on_host,
            quiet=True,
            settings=copier.Settings(),
        )
    if run_tasks and not tasks_on_host:
        run_copy_tasks((template / "copier.yml").read_text(), destination)
    return destination


def run_copy_tasks(copier_yml: str, destination: Path) -> None:
    """The copy tasks copier skipped on a host without the project's Python, run in its root."""
    from kiln_tools import tooling  # here, as in `render`: it imports the matrix, which needs us

    for task in copy_tasks(copier_yml):
        tooling.run(destination, "sh", "-c", task)


def copy_tasks(copier_yml: str) -> list[str]:
    """The command lines copier.yml's `_tasks` run after `copier copy`, as copier runs them: a
    string through the shell, when its `when` renders true for a copy."""
    tasks = yaml.safe_load(copier_yml)["_tasks"]
    return _commands(tasks, {"_copier_operation": "copy"})


def after_update_commands(copier_yml: str) -> list[str]:
    """The command lines of `_migrations` that copier runs after every `copier update`."""
    migrations = yaml.safe_load(copier_yml).get("_migrations", [])
    chosen = _commands(migrations, {"_stage": "after"})
    versioned = [m for m in migrations if "version" in m and m["command"] in chosen]
    assert not versioned, f"an after-stage migration Kiln cannot tell applies: {versioned}"
    return chosen


def _commands(tasks: list[dict[str, object]], context: Mapping[str, str]) -> list[str]:
    chosen = []
    for task in tasks:
        when = jinja2.Environment(autoescape=True).from_string(str(task.get("when", "true")))
        if when.render(**context).strip().lower() == "true":
            command = task["command"]
            assert isinstance(command, str), f"not a command line: {task}"
            assert "{{" not in command, f"a command line Kiln would have to render: {task}"
            chosen.append(command)
    return chosen
