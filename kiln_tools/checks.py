"""Checks of a rendered tree: no stray Jinja, no blank-line debris, lint-clean as rendered."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".ini", ".mako", ".txt", ".example", ""}
SKIPPED_PARTS = {".venv", ".git", ".devdata", "__pycache__", ".mypy_cache", ".ruff_cache"}
# Jinja delimiters as a template writes them (GitHub's `${{ }}` expressions are not Jinja).
STRAY_JINJA = re.compile(r"(?<!\$)\{\{\s|\{%-?\s|\s-?%\}|\{#\s|\s#\}")


def text_files(project: Path) -> Iterator[Path]:
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if SKIPPED_PARTS & set(relative.parts) or not path.is_file() or path.name == "uv.lock":
            continue
        if path.suffix in TEXT_SUFFIXES or path.name.startswith("."):
            yield path


def stray_jinja(project: Path) -> list[str]:
    return [
        f"{path.relative_to(project)}:{number}"
        for path in text_files(project)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STRAY_JINJA.search(line)
    ]


def blank_line_debris(project: Path) -> list[str]:
    problems = []
    for path in text_files(project):
        text = path.read_text()
        name = path.relative_to(project)
        if not text:
            continue  # an empty package marker
        if not text.endswith("\n"):
            problems.append(f"{name}: no newline at the end")
        if text.endswith("\n\n"):
            problems.append(f"{name}: blank lines at the end")
        if "\n\n\n\n" in text:
            problems.append(f"{name}: a run of three blank lines")
        trailing = [n for n, line in enumerate(text.splitlines(), 1) if line != line.rstrip()]
        if trailing:
            problems.append(f"{name}: trailing whitespace on lines {trailing}")
    return problems


def ruff_problems(project: Path) -> list[str]:
    """`ruff check` and `ruff format --check`, fixing nothing: Kiln's ruff is the pinned one."""
    problems = []
    for command in (["check", "--no-fix", "."], ["format", "--check", "."]):
        completed = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode:
            problems.append(f"ruff {command[0]}:\n{completed.stdout}{completed.stderr}")
    return problems
