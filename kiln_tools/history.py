"""Real git history for the update tests: the template as tagged releases, projects as repositories.

`TemplateReleases` commits the template's working tree (or a changed copy of it) into a git
repository of its own and tags it, so `copier copy --vcs-ref` and `copier update` work offline,
exactly as they do for a user who installed a tagged Kiln release. `release_tag_problems` checks
Kiln's own release tags against CHANGELOG.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import copier
import yaml
from packaging.version import InvalidVersion, Version

from kiln_tools import pythons
from kiln_tools.rendering import (
    _RENDER_LOCK,
    DEFAULT_ANSWERS,
    REPO_ROOT,
    SKIPPED_PARTS,
    after_update_commands,
    rendered_files,
    run_copy_tasks,
    snapshot_template,
)
from kiln_tools.tooling import run

# Commits made here carry a fixed identity, whatever the machine's git configuration says.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Kiln Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Kiln Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}
# What a project's tree comparison leaves out: git's own data, the installed environment, and
# .env, whose secret is random on every render (it is git-ignored and never updated).
UNCOMPARED = SKIPPED_PARTS | {".env"}
CONFLICT_MARKER = re.compile(rb"^(<<<<<<< |>>>>>>> )", re.MULTILINE)
RELEASE_HEADING = re.compile(r"^## (\d+\.\d+\.\d+)", re.MULTILINE)
UNRELEASED = re.compile(r"^## Unreleased\n(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)


def git(directory: Path, *arguments: str) -> str:
    return run(directory, "git", *arguments, env=GIT_IDENTITY).stdout


def current_release() -> str:
    """The newest release in CHANGELOG.md: the version the working tree is about to be tagged."""
    match = RELEASE_HEADING.search((REPO_ROOT / "CHANGELOG.md").read_text())
    assert match, "CHANGELOG.md has no '## X.Y.Z' release heading"
    return match.group(1)


def release_tag_problems(repository: Path) -> list[str]:
    """What is wrong with a Kiln repository's release tags, one line per tag and problem.

    Copier takes every tag that parses as a PEP 440 version for a release (and renders the
    highest). Each must be `vX.Y.Z` on a commit whose CHANGELOG.md has X.Y.Z as its newest
    release, with nothing left under `## Unreleased`, and whose pyproject.toml says X.Y.Z.
    """
    problems: list[str] = []
    for tag in git(repository, "tag", "--list").split():
        try:
            version = Version(tag)
        except InvalidVersion:
            continue  # not a release to copier
        if tag != f"v{version}" or not re.fullmatch(r"\d+\.\d+\.\d+", str(version)):
            problems.append(f"{tag}: copier reads it as a version; Kiln's releases are vX.Y.Z")
            continue
        changelog = git(repository, "show", f"{tag}:CHANGELOG.md")
        newest = RELEASE_HEADING.search(changelog)
        if not newest or newest.group(1) != str(version):
            found = newest.group(1) if newest else "none"
            problems.append(f"{tag}: CHANGELOG.md's newest release there is {found}")
        unreleased = UNRELEASED.search(changelog)
        if unreleased and unreleased.group(1).strip():
            problems.append(f"{tag}: CHANGELOG.md still has items under '## Unreleased' there")
        project = tomllib.loads(git(repository, "show", f"{tag}:pyproject.toml"))["project"]
        if project.get("version") != str(version):
            problems.append(f"{tag}: pyproject.toml's version there is {project.get('version')}")
    return problems


class TemplateReleases:
    """A git repository of the template whose tags are releases."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        git(root, "init", "--quiet", "--initial-branch=main")

    def release(self, version: str, change: Callable[[Path], None] | None = None) -> str:
        """Commit the template's working tree, changed by `change`, as release `version`."""
        for entry in self.root.iterdir():
            if entry.name != ".git":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        staging = snapshot_template(self.root.parent / f"staging-{version}")
        for entry in staging.iterdir():
            shutil.move(entry, self.root / entry.name)
        staging.rmdir()
        if change is not None:
            change(self.root)
        git(self.root, "add", "--all")
        git(self.root, "commit", "--quiet", "--allow-empty", "-m", f"Release {version}")
        tag = f"v{version}"
        git(self.root, "tag", tag)
        return tag

    def copy(self, tag: str, destination: Path, answers: Mapping[str, Any]) -> Path:
        """`copier copy` of a release into a new git repository, committed as a user would.

        Copier runs its tasks on the host; for a Python the host lacks, they run afterwards in
        that Python's root, as Kiln runs every command of such a project."""
        version = str(answers.get("python_version") or pythons.default())
        tasks_on_host = pythons.runs_on_host(version)
        with _RENDER_LOCK:
            copier.run_copy(
                str(self.root),
                str(destination),
                data={**DEFAULT_ANSWERS, **answers},
                vcs_ref=tag,
                defaults=True,
                unsafe=True,
                skip_tasks=not tasks_on_host,
                quiet=True,
                settings=copier.Settings(),
            )
        if not tasks_on_host:
            run_copy_tasks(git(self.root, "show", f"{tag}:copier.yml"), destination)
        git(destination, "init", "--quiet", "--initial-branch=main")
        commit_all(destination, "Render from Kiln")
        return destination


def update(project: Path, tag: str, data: Mapping[str, Any] | None = None) -> None:
    """`copier update --trust --skip-answered --defaults [--data ...]` to a release.

    Copier runs the release's migrations on the host. For a Python the host lacks, `uv lock`
    there finds no interpreter (the migration says so and goes on), so the after-update commands
    run again in that Python's root, as on a machine that has it.
    """
    with _RENDER_LOCK:
        copier.run_update(
            str(project),
            data=dict(data or {}),
            vcs_ref=tag,
            defaults=True,
            overwrite=True,
            skip_answered=True,
            unsafe=True,
            quiet=True,
            settings=copier.Settings(),
        )
    if not pythons.runs_on_host(pythons.project_version(project)):
        template = Path(yaml.safe_load((project / ".copier-answers.yml").read_text())["_src_path"])
        for command in after_update_commands(git(template, "show", f"{tag}:copier.yml")):
            run(project, "sh", "-c", command)


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", message)


def tree(project: Path) -> dict[str, bytes]:
    """Every file of a project by relative path, without the uncompared parts."""
    files: dict[str, bytes] = {}
    for path in rendered_files(project, skipped=UNCOMPARED):
        files[path.relative_to(project).as_posix()] = path.read_bytes()
    return files


def tree_differences(actual: dict[str, bytes], expected: dict[str, bytes]) -> list[str]:
    """What tells two trees apart, one line per path."""
    return (
        [f"only in the updated project: {path}" for path in sorted(actual.keys() - expected)]
        + [f"only in the fresh render: {path}" for path in sorted(expected.keys() - actual)]
        + [
            f"differs: {path}"
            for path in sorted(actual.keys() & expected.keys())
            if actual[path] != expected[path]
        ]
    )


def without_commit(answers_file: bytes) -> bytes:
    """The answers file without `_commit`: two renders of one release may name it differently."""
    return re.sub(rb"^_commit: .*\n", b"", answers_file, flags=re.MULTILINE)


def conflicted_files(project: Path) -> list[str]:
    """Files git holds as unmerged, as `git status` shows them after an update with conflicts."""
    return sorted(git(project, "diff", "--name-only", "--diff-filter=U").split())


def files_with_markers(files: dict[str, bytes]) -> list[str]:
    return [path for path, content in files.items() if CONFLICT_MARKER.search(content)]


def update_available(project: Path) -> bool:
    """What the generated `template-update` workflow asks: `copier check-update --quiet`."""
    result = subprocess.run(
        [sys.executable, "-m", "copier", "check-update", "--quiet", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode in {0, 2}, result.stderr
    return result.returncode == 2
