"""Release bookkeeping: the changelog, the answers migration tool, the copier the projects use."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from kiln_tools.history import commit_all, current_release, git, release_tag_problems
from kiln_tools.rendering import REPO_ROOT

ANSWERS = """\
# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY
_commit: v0.1.0
_src_path: gh:example/kiln
queue: dramatiq
tags:
    - a
    - b
use_auth: true
"""


def load_answers_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("answers", REPO_ROOT / "migrations/answers.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


answers_tool = load_answers_tool()


def test_rename_touches_only_that_key() -> None:
    renamed = answers_tool.rename(ANSWERS, "queue", "task_queue")
    assert renamed == ANSWERS.replace("\nqueue: dramatiq\n", "\ntask_queue: dramatiq\n")


def test_rename_twice_is_harmless() -> None:
    once = answers_tool.rename(ANSWERS, "queue", "task_queue")
    assert answers_tool.rename(once, "queue", "task_queue") == once


def test_rename_refuses_when_both_names_are_answered() -> None:
    both = ANSWERS + "task_queue: celery\n"
    with pytest.raises(SystemExit, match="Both 'queue' and 'task_queue' are answered"):
        answers_tool.rename(both, "queue", "task_queue")


def test_drop_removes_the_key_and_its_list_value() -> None:
    dropped = answers_tool.drop(ANSWERS, "tags")
    assert dropped == ANSWERS.replace("tags:\n    - a\n    - b\n", "")
    assert answers_tool.drop(dropped, "tags") == dropped


def test_the_tool_runs_as_copier_runs_it(tmp_path: Path) -> None:
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text(ANSWERS)
    command = [sys.executable, str(REPO_ROOT / "migrations/answers.py")]
    subprocess.run([*command, "--file", str(answers), "rename", "queue", "task_queue"], check=True)
    assert "task_queue: dramatiq" in answers.read_text()
    assert "\nqueue:" not in answers.read_text()


def test_every_release_has_an_upgrading_note() -> None:
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    releases = re.split(r"^## (?=\d)", changelog, flags=re.MULTILINE)[1:]
    assert releases
    assert releases[0].startswith(current_release())
    for release in releases:
        assert "### Upgrading" in release, release.splitlines()[0]


def test_kilns_version_is_the_newest_release() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == current_release()


def test_the_release_tags_match_the_changelog() -> None:
    assert release_tag_problems(REPO_ROOT) == []


def test_release_tag_problems_names_each_wrong_tag(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet", "--initial-branch=main")

    def commit(changelog: str, version: str) -> None:
        (tmp_path / "CHANGELOG.md").write_text(f"# Changelog\n\n{changelog}")
        (tmp_path / "pyproject.toml").write_text(
            f'[project]\nname = "kiln"\nversion = "{version}"\n'
        )
        commit_all(tmp_path, version)

    commit("## Unreleased\n\n## 0.1.0 (2026-11-24)\n\nThe first.\n", "0.1.0")
    for tag in ["v0.1.0", "0.1.0", "snapshot"]:
        git(tmp_path, "tag", tag)
    commit("## Unreleased\n\n- A fix.\n\n## 0.1.0 (2026-11-24)\n\nThe first.\n", "0.1.0")
    git(tmp_path, "tag", "v0.2.0")
    commit("## 0.3.0rc1 (2026-12-01)\n\n## 0.1.0 (2026-11-24)\n", "0.3.0rc1")
    git(tmp_path, "tag", "v0.3.0rc1")

    assert release_tag_problems(tmp_path) == [
        "0.1.0: copier reads it as a version; Kiln's releases are vX.Y.Z",
        "v0.2.0: CHANGELOG.md's newest release there is 0.1.0",
        "v0.2.0: CHANGELOG.md still has items under '## Unreleased' there",
        "v0.2.0: pyproject.toml's version there is 0.1.0",
        "v0.3.0rc1: copier reads it as a version; Kiln's releases are vX.Y.Z",
    ]
