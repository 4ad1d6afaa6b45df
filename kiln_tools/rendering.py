"""Render the working tree of this template, in-process and offline (no git clone)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Mapping
from pathlib import Path

import copier

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PARTS = ("copier.yml", "template", "extensions", "migrations")
DEFAULT_ANSWERS: dict[str, object] = {
    "project_name": "Kiln Demo",
    "author_name": "Kiln Tests",
    "author_email": "tests@example.com",
}
# Copier changes the process's working directory while it renders and runs tasks, and the
# working directory is shared by every thread: renders in threads must take turns.
_RENDER_LOCK = threading.Lock()


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


def render(
    template: Path,
    destination: Path,
    answers: Mapping[str, object] | None = None,
    *,
    run_tasks: bool = True,
) -> Path:
    with _RENDER_LOCK:
        copier.run_copy(
            str(template),
            str(destination),
            data={**DEFAULT_ANSWERS, **(answers or {})},
            defaults=True,
            unsafe=True,
            skip_tasks=not run_tasks,
            quiet=True,
            settings=copier.Settings(),
        )
    return destination
