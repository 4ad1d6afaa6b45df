"""The template's shape: Jinja conditionals in template/src, within budget (issue 23).

Every `{% if %}` a flag adds to a shared file is a branch each reader and each combination of the
matrix pays for; a condition that weighs several flags at once couples them. The budgets below
are where issue 23's refactor (flags as features the app factory mounts) is to take the template;
`uv run kiln shape` prints the counts and lists the compound conditions. The counting itself is
in kiln_tools/shape.py, and checked first on trees made here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiln_tools.matrix import load_questions
from kiln_tools.rendering import REPO_ROOT
from kiln_tools.shape import Shape, flags, template_shape

# Issue 23: the budgets of the template's Jinja conditionals.
MAIN_CONDITIONALS_BUDGET = 8  # in the package's main.py(.jinja), the app factory
CONDITIONALS_BUDGET = 110  # in every file under template/src
USE_AUTH_FILES_BUDGET = 8  # files under template/src whose text names `use_auth`
COMPOUND_CONDITIONS_BUDGET = 1  # conditionals naming more than one flag


@pytest.fixture(scope="module")
def shape() -> Shape:
    return template_shape()


def test_the_flags_are_copier_yml_s_matrix_questions_and_what_follows_from_them() -> None:
    questions = load_questions()
    found = flags(questions)
    matrix = [name for name, spec in questions.items() if spec.get("matrix") is True]
    assert found[: len(matrix)] == matrix
    assert "use_auth" in found
    assert "uses_redis" in found  # computed from use_cache and task_queue
    assert "python_version" not in found  # asked, but no flag of the matrix
    assert "package_name" not in found  # computed from the project's name, not from a flag


def test_the_counting_on_a_tree_of_its_own(tmp_path: Path) -> None:
    package = tmp_path / "{{ package_name }}"
    (package / "core").mkdir(parents=True)
    (package / "main.py.jinja").write_text(
        "{% if use_auth %}a{% endif %}\n"
        "{%- if use_cache -%}\nb\n{%- elif uses_redis and not use_cache %}c{% endif %}\n"
        "{{ 'x' if use_auth else 'y' }}\n"  # an expression's `if`, no tag
        "{%- endif %}{% endfor %}{% set notify = true %}\n"
    )
    (package / "core" / "{% if use_auth %}security.py{% endif %}.jinja").write_text("plain\n")
    (package / "core" / "main.py.jinja").write_text("{% if use_auth %}{% endif %}\n")
    (package / "core" / "jobs.py.jinja").write_text(
        '{%+ if task_queue != "none"\n   and use_observability %}j{% endif %}\n'
        "{% if use_observability %}{% endif %}\n"
    )
    some = ["use_auth", "use_cache", "task_queue", "uses_redis"]
    counted = template_shape(tmp_path, some)
    assert counted.main_conditionals == 3  # the package's main module only, not core/main.py
    assert counted.conditionals == 3 + 1 + 2
    assert counted.use_auth_files == 2  # by text: the file named after it does not count
    # One flag named twice is one flag; a name that is no flag does not count.
    assert counted.compound == ("{{ package_name }}/main.py.jinja: uses_redis and not use_cache",)
    with_observability = template_shape(tmp_path, [*some, "use_observability"])
    assert with_observability.compound == (
        '{{ package_name }}/core/jobs.py.jinja: task_queue != "none" and use_observability',
        "{{ package_name }}/main.py.jinja: uses_redis and not use_cache",
    )
    assert with_observability.compound_conditions == 2


def test_main_py_conditionals_within_budget(shape: Shape) -> None:
    assert shape.main_conditionals <= MAIN_CONDITIONALS_BUDGET, shape


def test_template_conditionals_within_budget(shape: Shape) -> None:
    assert shape.conditionals <= CONDITIONALS_BUDGET, shape


def test_files_naming_use_auth_within_budget(shape: Shape) -> None:
    assert shape.use_auth_files <= USE_AUTH_FILES_BUDGET, shape


def test_compound_conditions_within_budget(shape: Shape) -> None:
    assert shape.compound_conditions <= COMPOUND_CONDITIONS_BUDGET, "\n".join(shape.compound)


# Files Kiln renders once and then leaves to the project: the same text for every answer but the
# names, so that `copier update` turning a flag on or off finds nothing to merge in them.
PROJECT_OWNED_FILES = ["template/src/{{ package_name }}/project_features.py.jinja"]


@pytest.mark.parametrize("relative", PROJECT_OWNED_FILES)
def test_project_owned_files_do_not_depend_on_a_flag(relative: str) -> None:
    text = (REPO_ROOT / relative).read_text()
    assert "{%" not in text, f"{relative} has a Jinja tag: a flag's update would conflict in it"
    expressions = set(re.findall(r"{{(.*?)}}", text))
    assert expressions == {" package_name "}, f"{relative} renders more than the package's name"
