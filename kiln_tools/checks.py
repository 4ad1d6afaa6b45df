"""Checks of a rendered tree: no stray Jinja, no blank-line debris, lint-clean as rendered."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import yaml

from kiln_tools.rendering import rendered_files

TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".ini", ".mako", ".txt", ".example", ""}
# Jinja delimiters as a template writes them (GitHub's `${{ }}` expressions are not Jinja).
STRAY_JINJA = re.compile(r"(?<!\$)\{\{\s|\{%-?\s|\s-?%\}|\{#\s|\s#\}")


def text_files(project: Path) -> Iterator[Path]:
    for path in rendered_files(project):
        if path.name != "uv.lock" and (path.suffix in TEXT_SUFFIXES or path.name.startswith(".")):
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


def _parse_yaml(text: str) -> object:
    """Every document of a YAML stream (Kubernetes manifests hold several)."""
    return list(yaml.safe_load_all(text))


def configuration_problems(project: Path) -> list[str]:
    """Each TOML, JSON and YAML file of a render that does not parse, with the parser's error."""
    problems = []
    for path in rendered_files(project):
        parse = {".toml": tomllib.loads, ".json": json.loads}.get(path.suffix)
        if path.suffix in {".yml", ".yaml"}:
            parse = _parse_yaml
        if parse is None:
            continue
        try:
            parse(path.read_text())
        except ValueError as error:  # tomllib, json and yaml errors are all ValueErrors
            problems.append(f"{path.relative_to(project)}: {error}")
    return problems
