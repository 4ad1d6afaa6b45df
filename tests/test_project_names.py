"""Any project name the questionnaire accepts renders a project that passes its own lint.

The matrix renders a few names (kiln_tools.matrix.PROJECT_NAMES); here, with every flag on:
hand-picked names of every shape that broke or could break a render, and random names drawn
from what the validators accept. `ruff` is Kiln's own, the version the template pins.
"""

from __future__ import annotations

import importlib.util
import re
import string
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln_tools.checks import configuration_problems, ruff_problems
from kiln_tools.matrix import (
    PROJECT_NAMES,
    Combination,
    combinations,
    default_combination,
    dimensions,
)
from kiln_tools.rendering import DEFAULT_ANSWERS, REPO_ROOT, render
from kiln_tools.steps import Build, Workshop, sync, types
from kiln_tools.tooling import run


def _load_extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kiln_extension", REPO_ROOT / "extensions/kiln.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


kiln = _load_extension()
# Every flag on; the queue is each name's own.
ALL_ON = {"use_auth": True, "use_cache": True, "use_pgvector": True, "use_observability": True}
DOTLESS_I = "\u0131"
LONGEST_SLUG = "enterprise-order-fulfilment-svcs"
LONGEST_NAME = "Enterprise Order Fulfilment Services for the West Coast Regi"

NAMES: dict[str, dict[str, object]] = {
    # The package's place beside "tests" decides the import order of the generated tests.
    "after-tests": {"project_name": "Warehouse"},
    "after-tests-two-words": {"project_name": "Zebra Stripes", "task_queue": "celery"},
    "starts-with-tests": {"project_name": "Tests Hub"},
    "before-tests": {"project_name": "Alpha"},
    "accents": {"project_name": "Café Übersicht", "task_queue": "celery"},
    "accents-only": {"project_name": "Ñandú"},
    # Letters Unicode does not decompose (ß, ø, ł, dotless i): transliterated, not dropped, in
    # the slug; and ruff takes a dotless i for a look-alike of i unless the project allows it.
    "undecomposed-letters": {"project_name": "Straße Øresund Łódź"},
    "look-alike-letters": {
        "project_name": f"Diyarbak{DOTLESS_I}r Lojistik",
        "task_queue": "celery",
    },
    "shortest": {"project_name": "X"},
    # 60 columns: the longest name, with the longest slug and package (32 characters).
    "longest": {"project_name": LONGEST_NAME, "project_slug": LONGEST_SLUG},
    "longest-celery": {
        "project_name": LONGEST_NAME,
        "project_slug": LONGEST_SLUG,
        "task_queue": "celery",
    },
    "longest-no-queue": {
        "project_name": LONGEST_NAME,
        "project_slug": LONGEST_SLUG,
        "task_queue": "none",
    },
    # Wide characters take two columns: 28 of them and " API" are 60.
    "longest-wide": {"project_name": "東" * 28 + " API"},
    "digits": {"project_name": "R2-D2 Control 66"},
    "punctuation": {"project_name": "Q&A: Service #1 (v2.0)", "task_queue": "celery"},
    "apostrophe": {"project_name": "Mr. Müller's API"},
    "trailing-period": {"project_name": "Orders API."},
    "underscore-digits": {"project_name": "x86_64 Builder", "task_queue": "none"},
    "jinja-like": {"project_name": "Curly {{ Braces }} {% raw %}"},
    "emoji": {"project_name": "Rocket 🚀 Launches"},
}


def name_error(name: str) -> str:
    """What the questionnaire says of a name and the slug and package it gives ("" if valid)."""
    slug = kiln.slugify(name)
    package = kiln.to_package_name(slug)
    return str(
        kiln.project_name_error(name)
        or kiln.project_slug_error(slug)
        or kiln.package_name_error(package)
    )


def render_problems(template: Path, destination: Path, answers: dict[str, object]) -> list[str]:
    project = render(template, destination, {**ALL_ON, **answers}, run_tasks=False)
    answered = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answered["project_name"] == answers["project_name"]
    assert (project / "src" / answered["package_name"] / "main.py").is_file()
    return ruff_problems(project) + configuration_problems(project)


def test_the_ruff_here_is_the_one_the_template_pins() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "ruff", "--version"], capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["ruff", kiln.PINS["ruff"]]


@pytest.mark.parametrize("answers", list(NAMES.values()), ids=list(NAMES))
def test_a_valid_name_renders_lint_clean(
    template: Path, tmp_path: Path, answers: dict[str, object]
) -> None:
    name = str(answers["project_name"])
    if "project_slug" in answers:
        slug = str(answers["project_slug"])
        assert not kiln.project_name_error(name)
        assert not kiln.project_slug_error(slug)
        assert not kiln.package_name_error(kiln.to_package_name(slug))
        assert len(slug) == kiln.MAX_NAME_LENGTH
    else:
        assert not name_error(name), name_error(name)
    assert not render_problems(template, tmp_path / "project", answers)


def test_the_hand_picked_names_reach_the_limits() -> None:
    assert kiln.display_width(LONGEST_NAME) == kiln.MAX_TITLE_LENGTH
    assert kiln.project_name_error(LONGEST_NAME + "n")
    assert kiln.display_width(str(NAMES["longest-wide"]["project_name"])) == kiln.MAX_TITLE_LENGTH
    assert len(str(NAMES["shortest"]["project_name"])) == 1
    packages = [kiln.to_package_name(kiln.slugify(str(a["project_name"]))) for a in NAMES.values()]
    assert any(package > "tests" for package in packages)
    assert any(package < "tests" for package in packages)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Straße Øresund Łódź", "strasse-oresund-lodz"),
        (f"Diyarbak{DOTLESS_I}r Lojistik", "diyarbakir-lojistik"),
        ("Café Übersicht", "cafe-ubersicht"),
        ("Q&A: Service #1 (v2.0)", "q-a-service-1-v2-0"),
        ("東京 Tokyo API", "tokyo-api"),
    ],
)
def test_slugs_keep_every_latin_letter(name: str, slug: str) -> None:
    assert kiln.slugify(name) == slug


# Random names: words of Latin letters (with accents and letters Unicode does not decompose),
# of any script's letters, marks, digits, punctuation and symbols, and digits alone; joined by
# spaces or punctuation. Whatever the validators refuse is filtered out by the validators.
LATIN = string.ascii_letters + "ÀÉÎÕÜàéîõüçñßøłıÆœÐþ"
PUNCTUATION = " -_.,:;!?&+/()[]{}#@'*~%$^=<>|`"
ANY_PRINTABLE = st.characters(categories=("L", "M", "N", "P", "S"), exclude_characters='"\\')
WORD = st.one_of(
    st.text(alphabet=LATIN, min_size=1, max_size=10),
    st.text(alphabet=LATIN + string.digits, min_size=1, max_size=6),
    st.text(alphabet=ANY_PRINTABLE, min_size=1, max_size=5),
    st.text(alphabet=string.digits, min_size=1, max_size=3),
)
SEPARATOR = st.text(alphabet=PUNCTUATION, min_size=1, max_size=2)
VALID_NAMES = (
    st.tuples(WORD, st.lists(st.tuples(SEPARATOR, WORD), max_size=4))
    .map(lambda parts: parts[0] + "".join(separator + word for separator, word in parts[1]))
    .filter(lambda name: not name_error(name))
)


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(name=VALID_NAMES)
def test_any_valid_name_renders_lint_clean(template: Path, name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="kiln-name-") as folder:
        answers = {"project_name": name, "task_queue": "celery" if len(name) % 2 else "dramatiq"}
        assert not render_problems(template, Path(folder) / "project", answers)


def test_the_matrix_gives_each_name_every_flag_value() -> None:
    dims = dimensions()
    everything = combinations(dims)
    for name in PROJECT_NAMES:
        assert not name_error(name), name
        named = [c for c in everything if c.answers.get("project_name") == name]
        for dimension in dims:
            assert {c.answers[dimension.name] for c in named} == set(dimension.values), (
                name,
                dimension.name,
            )
    shapes = [kiln.to_package_name(kiln.slugify(name)) for name in PROJECT_NAMES]
    assert any(package > "tests" for package in shapes)
    assert any(not name.isascii() for name in PROJECT_NAMES)
    assert max(len(package) for package in shapes) == kiln.MAX_NAME_LENGTH


def test_the_default_combination_keeps_the_default_name() -> None:
    """The default project's tests, the update tests and `kiln bench` expect `kiln_demo`."""
    default = default_combination()
    assert "project_name" not in default.answers
    assert DEFAULT_ANSWERS["project_name"] == "Kiln Demo"
    assert default in combinations(dimensions())


# Two names through mypy --strict with their dependencies installed: one whose package sorts
# after "tests" (Dramatiq), the longest (Celery). The same environments show which names the
# generated package must not take: every module, distribution and command installed there.
TYPED = {
    "after-tests": {**ALL_ON, "project_name": "Warehouse", "task_queue": "dramatiq"},
    "longest": {**ALL_ON, **NAMES["longest-celery"]},
}


@pytest.fixture(scope="module")
def typed_builds(workshop: Workshop) -> dict[str, Build]:
    """Rendered with their lock files and installed (`uv sync --locked`), once per module."""
    dims = dimensions()
    projects = {}
    for label, answers in TYPED.items():
        build = workshop.build(Combination(f"project-name-{label}", answers), dims)
        sync(build)
        projects[label] = build
    return projects


@pytest.mark.slow
@pytest.mark.parametrize("label", list(TYPED))
def test_mypy_strict_passes_whatever_the_name(typed_builds: dict[str, Build], label: str) -> None:
    build = typed_builds[label]
    types(build)
    # The name as written in .env.example reads back the same through dotenv.
    script = (
        "from dotenv import dotenv_values; print(dotenv_values('.env.example')['PROJECT_NAME'])"
    )
    python = build.project / ".venv" / "bin" / "python"
    completed = run(build.project, str(python), "-c", script)
    assert completed.stdout.strip() == TYPED[label]["project_name"]


def installed_names(project: Path) -> tuple[set[str], set[str], set[str]]:
    """Top-level modules, distributions and commands of a project's environment."""
    (site,) = (project / ".venv" / "lib").glob("python3.*/site-packages")
    modules, distributions = set(), set()
    for entry in site.iterdir():
        if entry.name.endswith(".dist-info"):
            name = entry.name.removesuffix(".dist-info").rsplit("-", 1)[0]
            distributions.add(re.sub(r"[-_.]+", "-", name).lower())
        elif entry.suffix not in {".pth", ".libs"} and not entry.name.endswith("-stubs"):
            module = entry.name.split(".")[0]
            # Private modules, and mypyc's runtime libraries (named by a hash and "__mypyc").
            if not module.startswith("_") and "__" not in module:
                modules.add(module)
    commands = {path.name for path in (project / ".venv" / "bin").iterdir()}
    return modules, distributions, commands


@pytest.mark.slow
def test_no_package_name_shadows_what_its_environment_installs(
    typed_builds: dict[str, Build],
) -> None:
    for build in typed_builds.values():
        modules, distributions, commands = installed_names(build.project)
        own = {build.package, kiln.slugify(build.package)}
        for module in modules - own:
            if module.isidentifier() and module.islower():
                assert kiln.package_name_error(module), f"package_name {module!r} is accepted"
        for command in commands - own:
            if command.isidentifier() and command.islower():
                assert kiln.package_name_error(command), f"package_name {command!r} is accepted"
        for distribution in distributions - own:
            if kiln.SLUG_PATTERN.fullmatch(distribution):
                assert kiln.project_slug_error(distribution), f"slug {distribution!r} is accepted"
