"""`copier update` end to end: real template releases in git, real projects, real merges.

Each case starts from the release before this one (`previous_release`: the working tree with a
few changes an update must bring in) and updates to the working tree, tagged as the release in
CHANGELOG.md. The cases are the `--defaults` answers and every flag on, from copier.yml; each
starts with one flag off, turned on later.

1. No user edits: the update equals a fresh render (and `check-update` sees the release first).
2. User edits survive, template changes arrive, nothing else is touched; a conflicting edit
   shows up as an unmerged file with both sides.
3. A flag turned on later equals a fresh render with it, plus the edits; off again, its files go.
4. A question renamed by a migration: an answers file of the older release updates cleanly.
5. The updated project passes lint, strict types, its boot and its suite. (Scenarios 1 and 4
   equal fresh renders, which the matrix checks.)

The cases render for the default Python. Copier runs in this process, on the host; where the
host lacks that Python, its tasks and migrations (`uv lock`) run again in the Python's root
(`kiln_tools.history`), as every command of such a project does.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiln_tools.history import (
    TemplateReleases,
    commit_all,
    conflicted_files,
    current_release,
    files_with_markers,
    tree,
    tree_differences,
    update,
    update_available,
    without_commit,
)
from kiln_tools.matrix import Combination, default_combination, dimensions, load_questions
from kiln_tools.steps import Build, Workshop, check, lint, static_problems, types
from kiln_tools.tooling import drop_database, run

pytestmark = pytest.mark.slow

PREVIOUS = "0.0.0"
PACKAGE = "kiln_demo"
ANSWERS_FILE = ".copier-answers.yml"
CONFIG = f"src/{PACKAGE}/core/config.py"
# The previous release's values of what this one changed.
OLD_TENACITY = "9.1.2"
OLD_HEALTH_TIMEOUT = "3.0"
DROPPED_FILE = "docs/upgrade-notes.md"
ADDED_FILE = ".github/workflows/template-update.yml"


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that must be there exactly once: a stale edit fails loudly."""
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: expected {old!r} exactly once"
    path.write_text(text.replace(old, new))


def previous_release(root: Path) -> None:
    """The release before this one, as far as an update can tell: what the update brings in."""
    pins = root / "extensions" / "kiln.py"
    current = re.search(r'"tenacity": "([^"]+)"', pins.read_text())
    assert current, "extensions/kiln.py pins no tenacity"
    assert current.group(1) != OLD_TENACITY
    edit(pins, current.group(0), f'"tenacity": "{OLD_TENACITY}"')
    template = root / "template"
    config = template / "src" / "{{ package_name }}" / "core" / "config.py.jinja"
    edit(
        config,
        "health_check_timeout_seconds: float = Field(default=2.0, gt=0)",
        f"health_check_timeout_seconds: float = Field(default={OLD_HEALTH_TIMEOUT}, gt=0)",
    )
    edit(
        template / ".env.example.jinja",
        "HEALTH_CHECK_TIMEOUT_SECONDS=2\n",
        "HEALTH_CHECK_TIMEOUT_SECONDS=3\n",
    )
    (template / DROPPED_FILE).write_text("# Upgrade notes\n\nMoved to the project's README.\n")
    (template / f"{ADDED_FILE}.jinja").unlink()


@dataclass(frozen=True)
class Case:
    id: str
    answers: dict[str, Any]
    later: str  # the flag this case starts without and turns on later

    @property
    def start(self) -> dict[str, Any]:
        return {**self.answers, self.later: False}

    def renamed(self) -> str:
        """A question whose answer here is not its default, so losing it would show."""
        questions = load_questions()
        return next(
            name
            for name, value in self.start.items()
            if isinstance(value, bool) and value != questions[name]["default"]
        )


def all_flags_on() -> dict[str, Any]:
    """Every yes/no flag on; a choice keeps its default."""
    defaults = default_combination().answers
    return {name: True if isinstance(value, bool) else value for name, value in defaults.items()}


CASES = [
    Case("default", default_combination().answers, later="use_cache"),
    Case("all-flags-on", all_flags_on(), later="use_observability"),
]


class Lab:
    """Releases of the template and the projects made from them, in one private folder.

    Not under pytest's basetemp: the projects' own suites run pytest, which prunes old basetemps.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.releases = TemplateReleases(root / "kiln")
        self.old = self.releases.release(PREVIOUS, previous_release)
        self.new = self.releases.release(current_release())
        self._fresh: dict[str, Path] = {}

    def fresh(self, answers: dict[str, Any]) -> Path:
        """A fresh render of this release (each set of answers rendered once)."""
        key = str(sorted(answers.items()))
        if key not in self._fresh:
            destination = self.root / f"fresh-{len(self._fresh)}"
            self._fresh[key] = self.releases.copy(self.new, destination, answers)
        return self._fresh[key]

    def project(self, name: str, answers: dict[str, Any]) -> Path:
        return self.releases.copy(self.old, self.root / name, answers)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with tempfile.TemporaryDirectory(prefix="kiln-update-") as folder:
        root = Path(folder)
        root.chmod(0o755)
        yield Lab(root)


@pytest.fixture(scope="module", params=CASES, ids=[case.id for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    case: Case = request.param
    return case


def comparable(files: dict[str, bytes]) -> dict[str, bytes]:
    return {**files, ANSWERS_FILE: without_commit(files[ANSWERS_FILE])}


def assert_same_tree(project: Path, expected: Path, *, except_paths: Iterable[str] = ()) -> None:
    """The same files, and a lock file solved for the same pyproject.toml.

    uv.lock is not compared as bytes: the update's `uv lock` keeps the versions it already held
    where they still fit, and a fresh render takes the newest, so a release of any dependency
    between the two tells them apart (the likeliest cause of a CI failure on 2026-12-07, which
    did not happen again here). What the template decides must agree: the lock is current for
    the updated pyproject.toml and holds the release's pin.
    """
    skipped = {*except_paths, "uv.lock"}
    if "uv.lock" not in except_paths:
        run(project, "uv", "lock", "--check")
        assert locked_version(project, "tenacity") == locked_version(expected, "tenacity")
    actual = {p: c for p, c in comparable(tree(project)).items() if p not in skipped}
    wanted = {p: c for p, c in comparable(tree(expected)).items() if p not in skipped}
    assert tree_differences(actual, wanted) == []


def assert_cleanly_merged(project: Path) -> None:
    assert conflicted_files(project) == []
    assert files_with_markers(tree(project)) == []
    assert not list(project.rglob("*.rej"))


# What a user does to a project, and what of it must still be there after any update.
USER_ENDPOINT = '''"""Our own endpoint: which build answers."""

from fastapi import APIRouter

router = APIRouter(prefix="/build", tags=["build"])


@router.get("")
async def build_label() -> dict[str, str]:
    return {"build": "local"}
'''
# As docs/architecture.md says: the CLI imports every feature, so a feature imports its router
# only when asked.
USER_FEATURE = f'''"""Our own endpoint, as a feature."""

from {PACKAGE}.core.features import Feature, Routers


def routers() -> Routers:
    from {PACKAGE}.build.routes import router
    from {PACKAGE}.core.errors import ERROR_RESPONSES

    return [(router, ERROR_RESPONSES)]


BUILD_FEATURE = Feature(name="build", routers=routers)
'''
USER_TEST = """

def test_outbound_calls_wait_longer_here() -> None:
    assert Settings(_env_file=None).http_timeout_seconds == 7.5
"""
USER_ENDPOINT_TEST = f'''"""Our endpoint's test."""

from {PACKAGE}.build.routes import build_label


async def test_the_build_endpoint_names_the_build() -> None:
    assert await build_label() == {{"build": "local"}}
'''
USER_EDITS = {
    f"src/{PACKAGE}/build/__init__.py": ['"""Which build answers."""'],
    f"src/{PACKAGE}/build/routes.py": ["async def build_label()"],
    f"src/{PACKAGE}/build/feature.py": ['BUILD_FEATURE = Feature(name="build", routers=routers)'],
    "tests/unit/test_build.py": ["async def test_the_build_endpoint_names_the_build()"],
    f"src/{PACKAGE}/project_features.py": [
        f"from {PACKAGE}.build.feature import BUILD_FEATURE",
        "PROJECT_FEATURES: Sequence[Feature] = [BUILD_FEATURE]",
    ],
    CONFIG: ["http_timeout_seconds: float = Field(default=7.5, gt=0)"],
    "tests/unit/test_config.py": ["def test_outbound_calls_wait_longer_here()"],
    "pyproject.toml": ['"humanize==4.17.0"'],
    "uv.lock": ['name = "humanize"'],
}


def make_user_edits(project: Path) -> None:
    """A new endpoint, an edited setting, a changed test and an added dependency."""
    package = project / f"src/{PACKAGE}/build"
    package.mkdir()
    (package / "__init__.py").write_text('"""Which build answers."""\n')
    (package / "routes.py").write_text(USER_ENDPOINT)
    (package / "feature.py").write_text(USER_FEATURE)
    (project / "tests/unit/test_build.py").write_text(USER_ENDPOINT_TEST)
    # Registered where the project's own features go, as docs/architecture.md says.
    features = project / f"src/{PACKAGE}/project_features.py"
    config_import = f"from {PACKAGE}.core.config import CoreSettings\n"
    feature_import = f"from {PACKAGE}.build.feature import BUILD_FEATURE\n"
    edit(features, config_import, f"{feature_import}{config_import}")
    edit(
        features,
        "PROJECT_FEATURES: Sequence[Feature] = []",
        "PROJECT_FEATURES: Sequence[Feature] = [BUILD_FEATURE]",
    )
    edit(
        project / CONFIG,
        "http_timeout_seconds: float = Field(default=5.0, gt=0)",
        "http_timeout_seconds: float = Field(default=7.5, gt=0)",
    )
    with (project / "tests/unit/test_config.py").open("a") as test_file:
        test_file.write(USER_TEST)
    run(project, "uv", "add", "--no-sync", "humanize==4.17.0")


def assert_user_edits_kept(project: Path) -> None:
    for path, snippets in USER_EDITS.items():
        text = (project / path).read_text()
        missing = [snippet for snippet in snippets if snippet not in text]
        assert not missing, f"{path} lost {missing}"


def flag_packages(flag: str) -> list[str]:
    """The packages a flag adds, from its trace tokens in copier.yml (`name==`)."""
    tokens = load_questions()[flag]["trace"][True]
    return [token.removesuffix("==") for token in tokens if token.endswith("==")]


def is_locked(project: Path, name: str) -> bool:
    return f'name = "{name}"\n' in (project / "uv.lock").read_text()


def locked_version(project: Path, name: str) -> str:
    match = re.search(
        rf'^name = "{name}"\nversion = "([^"]+)"', (project / "uv.lock").read_text(), re.M
    )
    assert match, f"{name} is not in uv.lock"
    return match.group(1)


@dataclass
class Edited:
    project: Path
    after: dict[str, bytes] = field(default_factory=dict)


@pytest.fixture(scope="module")
def edited(case: Case, lab: Lab) -> Edited:
    """Rendered at the previous release, edited and committed by the user, then updated."""
    project = lab.project(f"{case.id}-edited", case.start)
    make_user_edits(project)
    commit_all(project, "Our changes")
    update(project, lab.new)
    result = Edited(project, tree(project))
    commit_all(project, "Update Kiln")
    return result


@pytest.fixture(scope="module")
def flag_on(case: Case, lab: Lab, edited: Edited) -> Path:
    """The updated project with the case's later flag answered yes."""
    project = lab.root / f"{case.id}-flag-on"
    shutil.copytree(edited.project, project, symlinks=True)
    update(project, lab.new, {case.later: True})
    return project


def test_1_an_update_without_edits_equals_a_fresh_render(case: Case, lab: Lab) -> None:
    project = lab.project(f"{case.id}-untouched", case.start)
    assert update_available(project)

    update(project, lab.new)

    assert_cleanly_merged(project)
    assert_same_tree(project, lab.fresh(case.start))
    commit_all(project, "Update Kiln")
    assert not update_available(project)


def test_2_user_edits_survive_and_the_release_arrives(case: Case, lab: Lab, edited: Edited) -> None:
    project = edited.project
    assert_user_edits_kept(project)
    assert_cleanly_merged(project)
    # The release's changes: a setting's default, a pin (solved into uv.lock), a file each way.
    config = (project / CONFIG).read_text()
    assert "health_check_timeout_seconds: float = Field(default=2.0, gt=0)" in config
    assert "HEALTH_CHECK_TIMEOUT_SECONDS=2\n" in (project / ".env.example").read_text()
    assert locked_version(project, "tenacity") != OLD_TENACITY
    assert (
        f'"tenacity=={locked_version(project, "tenacity")}"'
        in (project / "pyproject.toml").read_text()
    )
    assert locked_version(project, "humanize") == "4.17.0"
    assert (project / ADDED_FILE).is_file()
    assert not (project / DROPPED_FILE).exists()
    # Every file the user left alone is exactly what this release renders.
    assert_same_tree(project, lab.fresh(case.start), except_paths=set(USER_EDITS) | {"uv.lock"})


def test_2_a_conflicting_edit_shows_both_sides(case: Case, lab: Lab) -> None:
    project = lab.project(f"{case.id}-conflict", case.start)
    ours = "health_check_timeout_seconds: float = Field(default=2.5, gt=0)"
    edit(project / CONFIG, f"Field(default={OLD_HEALTH_TIMEOUT}, gt=0)", "Field(default=2.5, gt=0)")
    commit_all(project, "Our timeout")

    update(project, lab.new)

    assert conflicted_files(project) == [CONFIG]
    config = (project / CONFIG).read_text()
    assert ours in config  # ours
    assert "health_check_timeout_seconds: float = Field(default=2.0, gt=0)" in config  # theirs
    assert "<<<<<<< before updating" in config
    assert ">>>>>>> after updating" in config
    assert files_with_markers(tree(project)) == [CONFIG]


def test_3_a_flag_turned_on_later_then_off(
    case: Case, lab: Lab, edited: Edited, flag_on: Path
) -> None:
    assert_cleanly_merged(flag_on)
    assert_user_edits_kept(flag_on)
    assert_same_tree(flag_on, lab.fresh(case.answers), except_paths=set(USER_EDITS) | {"uv.lock"})
    commit_all(flag_on, f"{case.later} on")

    off = lab.root / f"{case.id}-flag-off"
    shutil.copytree(flag_on, off, symlinks=True)
    update(off, lab.new, {case.later: False})

    assert_cleanly_merged(off)
    # uv.lock is solved again, not restored: what the flag shared with other packages may stay
    # at the newer versions it brought. Its own packages go.
    without_lock = {path: content for path, content in edited.after.items() if path != "uv.lock"}
    assert tree_differences(tree(off), without_lock) == ["only in the updated project: uv.lock"]
    assert [name for name in flag_packages(case.later) if is_locked(flag_on, name)] == list(
        flag_packages(case.later)
    )
    assert [name for name in flag_packages(case.later) if is_locked(off, name)] == []
    run(off, "uv", "lock", "--check")


def test_4_a_renamed_question_is_migrated(case: Case, lab: Lab) -> None:
    name = case.renamed()
    old_name = f"{name.removeprefix('use_')}_enabled"
    releases = TemplateReleases(lab.root / f"kiln-renamed-{case.id}")

    def before_the_rename(root: Path) -> None:
        pattern = re.compile(rf"\b{name}\b")
        for path in [root / "copier.yml", *(root / "template").rglob("*")]:
            if path.is_file():
                path.write_text(pattern.sub(old_name, path.read_text()))
        for path in sorted((root / "template").rglob(f"*{name}*"), reverse=True):
            path.rename(path.with_name(pattern.sub(old_name, path.name)))

    def with_the_migration(root: Path) -> None:
        edit(
            root / "copier.yml",
            "_migrations:\n",
            "_migrations:\n"
            f'  - version: "{current_release()}"\n'
            "    when: \"{{ _stage == 'before' }}\"\n"
            '    command: ["{{ _copier_python }}",'
            ' "{{ _copier_conf.src_path }}/migrations/answers.py",'
            f' "rename", "{old_name}", "{name}"]\n',
        )

    old = releases.release(PREVIOUS, before_the_rename)
    releases.release(current_release(), with_the_migration)
    answers = {old_name if key == name else key: value for key, value in case.start.items()}
    project = releases.copy(old, lab.root / f"{case.id}-renamed", answers)
    assert f"{old_name}: {str(case.start[name]).lower()}" in (project / ANSWERS_FILE).read_text()

    update(project, f"v{current_release()}")

    recorded = (project / ANSWERS_FILE).read_text()
    assert f"{name}: {str(case.start[name]).lower()}" in recorded
    assert old_name not in recorded
    assert_cleanly_merged(project)
    assert_same_tree(project, lab.fresh(case.start), except_paths={ANSWERS_FILE})


def test_5_the_updated_projects_pass_their_checks(
    case: Case, lab: Lab, edited: Edited, flag_on: Path, workshop: Workshop
) -> None:
    dims = dimensions()
    # The update with the user's edits: lint and strict types (its suite is the one below, less
    # the flag's tests: test 3 proved turning the flag off gives exactly this tree back).
    before = Build(
        Combination(f"update-{case.id}-edited", case.start), dims, edited.project, PACKAGE
    )
    lint(before)
    types(before)
    # With the flag on as well: everything a matrix combination must pass.
    combination = Combination(f"update-{case.id}", case.answers)
    build = Build(combination, dims, flag_on, PACKAGE, server=workshop.server_for(combination))
    build.pristine_problems = static_problems(build)
    try:
        check(build)
    finally:
        drop_database(build.database, build.server)
