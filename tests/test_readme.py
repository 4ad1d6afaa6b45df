"""The README's commands, run verbatim as a newcomer would run them.

The render commands run in a clone of the template, the update command in the project after a
newer release of the template (real git history, from `kiln_tools.history`), and the mend that
docs/upgrading.md gives a project rendered with `.` as the template runs verbatim as well.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from kiln_tools import pythons
from kiln_tools.history import (
    GIT_IDENTITY,
    TemplateReleases,
    commit_all,
    conflicted_files,
    current_release,
    files_with_markers,
    git,
    tree,
)
from kiln_tools.rendering import REPO_ROOT
from kiln_tools.tooling import project_environment, run

pytestmark = pytest.mark.slow

# What copier prints when the repository it renders from has no release tag.
NO_TAGS_WARNING = "No git tags found in template; using HEAD as ref"
# The README's render command before it named the template "$PWD": it recorded `_src_path: .`.
OLD_RENDER = (
    "uvx --with copier-template-extensions copier copy --trust --defaults"
    ' --data project_name="My Service" . ../my-service'
)
# docs/upgrading.md's placeholder for the clone's path, in its mend for such a project.
CLONE_PLACEHOLDER = "KILN=/path/to/your/kiln-clone"


def _commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", readme)


def _command(containing: str) -> str:
    return next(command for command in _commands() if containing in command)


def _doc_block(document: str, containing: str) -> str:
    """The bash block of a docs page that holds `containing`, as a reader would paste it."""
    text = (REPO_ROOT / "docs" / document).read_text()
    blocks = re.findall(r"^( *)```bash\n(.*?\n)\1```$", text, re.MULTILINE | re.DOTALL)
    return next(textwrap.dedent(block) for _, block in blocks if containing in block)


def _bash(
    command: str, cwd: Path, env: Mapping[str, str] | None = None, *, succeeds: bool = True
) -> subprocess.CompletedProcess[str]:
    # Where a newcomer with the default Python would run them: on the host, or in its root.
    completed = subprocess.run(
        pythons.command_in(cwd, ["bash", "-e", "-c", command], pythons.default()),
        cwd=cwd,
        env=project_environment(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert (completed.returncode == 0) == succeeds, f"{command}\n{completed.stderr[-4000:]}"
    return completed


def _answers(project: Path) -> dict[str, Any]:
    answers: dict[str, Any] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return answers


def _released_clone(folder: Path) -> tuple[TemplateReleases, Path]:
    """The template's repository with this release tagged, and a user's clone of it."""
    origin = TemplateReleases(folder / "origin")
    origin.release(current_release())
    clone = folder / "kiln"
    git(folder, "clone", "--quiet", str(origin.root), str(clone))
    return origin, clone


def _commit_as_next_steps_say(rendered: subprocess.CompletedProcess[str], project: Path) -> None:
    """The `git init && git add -A && git commit ...` line copier prints after the render."""
    step = next(line.strip() for line in rendered.stderr.splitlines() if "git init" in line)
    _bash(step, project, GIT_IDENTITY)
    assert git(project, "status", "--porcelain") == ""


def _release_newer(origin: TemplateReleases, clone: Path, patch: int) -> tuple[str, str]:
    """A newer release whose generated README gains a line, pulled into the clone."""
    major, minor, _ = current_release().split(".")
    version = f"{major}.{minor}.{patch}"
    line = f"This line came with Kiln {version}."

    def add_the_line(root: Path) -> None:
        readme = root / "template" / "README.md.jinja"
        readme.write_text(f"{readme.read_text()}\n{line}\n")

    tag = origin.release(version, add_the_line)
    git(clone, "pull", "--quiet")  # the README: `git pull` in the clone first
    assert tag in git(clone, "tag").split()
    return tag, line


def _assert_updated(project: Path, tag: str, line: str) -> None:
    """The release arrived, merged cleanly, and changed only what it changed."""
    assert _answers(project)["_commit"] == tag
    assert line in (project / "README.md").read_text()
    assert conflicted_files(project) == []
    assert files_with_markers(tree(project)) == []
    assert not list(project.rglob("*.rej"))
    changed = sorted(entry[3:] for entry in git(project, "status", "--porcelain").splitlines())
    assert changed == [".copier-answers.yml", "README.md"]


def test_readme_names_the_test_command_ci_runs() -> None:
    assert "uv run pytest" in _commands()
    assert "uv run pytest" in (REPO_ROOT / ".ci" / "run").read_text()


def test_readme_render_command_works_from_a_clone(tmp_path: Path) -> None:
    """A clone with no release tag, as long as none is on the remote: copier renders HEAD."""
    clone = tmp_path / "kiln"
    subprocess.run(["git", "clone", "-q", "--no-tags", str(REPO_ROOT), str(clone)], check=True)
    rendered = _bash(_command("--defaults"), clone)
    assert NO_TAGS_WARNING in rendered.stderr
    assert NO_TAGS_WARNING in (REPO_ROOT / "README.md").read_text()  # and the README explains it
    project = tmp_path / "my-service"
    assert (project / "src" / "my_service" / "main.py").is_file()
    assert (project / "uv.lock").is_file()
    answers = _answers(project)
    assert answers["_src_path"] == str(clone.resolve())
    assert git(clone, "rev-parse", "HEAD").startswith(answers["_commit"])
    run(project, "uv", "run", "my_service", "--help")


def test_readme_update_command_brings_a_newer_release(tmp_path: Path) -> None:
    origin, clone = _released_clone(tmp_path)
    rendered = _bash(_command("--defaults"), clone)
    project = tmp_path / "my-service"
    assert _answers(project)["_src_path"] == str(clone.resolve())
    assert _answers(project)["_commit"] == f"v{current_release()}"
    _commit_as_next_steps_say(rendered, project)
    tag, line = _release_newer(origin, clone, patch=int(current_release().split(".")[2]) + 1)

    _bash(_command("copier update"), project)

    _assert_updated(project, tag, line)
    assert _answers(project)["_src_path"] == str(clone.resolve())
    commit_all(project, "Update Kiln")
    assert git(project, "status", "--porcelain") == ""


def test_a_project_rendered_with_a_dot_is_mended_as_upgrading_says(tmp_path: Path) -> None:
    origin, clone = _released_clone(tmp_path)
    rendered = _bash(OLD_RENDER, clone)
    project = tmp_path / "my-service"
    assert _answers(project)["_src_path"] == "."
    _commit_as_next_steps_say(rendered, project)
    patch = int(current_release().split(".")[2])
    tag, line = _release_newer(origin, clone, patch + 1)

    # From the project, `.` is the project itself.
    failed = _bash(_command("copier update"), project, succeeds=False)
    assert "Unknown revision" in failed.stderr
    assert git(project, "status", "--porcelain") == ""

    # Without touching the answers file: the update run from the clone.
    _bash(_doc_block("upgrading.md", "$(cd ../my-service && pwd)"), clone)
    _assert_updated(project, tag, line)
    assert _answers(project)["_src_path"] == "."
    commit_all(project, "Update Kiln")

    # Or the template recorded once, then updates from the project.
    tag, line = _release_newer(origin, clone, patch + 2)
    mend = _doc_block("upgrading.md", "sed -i.bak")
    assert mend.count(CLONE_PLACEHOLDER) == 1
    _bash(mend.replace(CLONE_PLACEHOLDER, f"KILN={clone.resolve()}"), project, GIT_IDENTITY)
    _assert_updated(project, tag, line)
    assert _answers(project)["_src_path"] == str(clone.resolve())
