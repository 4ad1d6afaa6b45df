"""The template's shape (issue 23): how many Jinja conditionals `template/src` holds, and how
many of them weigh several flags at once (`kiln shape`; tests/test_template_shape.py).

- A conditional is an `{% if ... %}` or `{% elif ... %}` tag in a file's text (with or without
  `-` whitespace control); the `{% if %}` of a file's name is not counted.
- A flag is a question of copier.yml marked `matrix: true`, or a computed one (`when: false`)
  whose default names such a question (`uses_redis`).
- A compound condition is a conditional whose expression names more than one flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln_tools.matrix import load_questions
from kiln_tools.rendering import REPO_ROOT

TEMPLATE_SOURCE = REPO_ROOT / "template" / "src"
CONDITIONAL = re.compile(r"\{%[-+]?\s*(?:el)?if\b(.*?)[-+]?%\}", re.DOTALL)
MAIN_MODULE = ("main.py", "main.py.jinja")


@dataclass(frozen=True)
class Shape:
    main_conditionals: int  # in the package's main.py(.jinja), its app factory
    conditionals: int  # in every file under template/src
    use_auth_files: int  # files under template/src whose text names `use_auth`
    compound: tuple[str, ...]  # each compound condition, as "path: expression"

    @property
    def compound_conditions(self) -> int:
        return len(self.compound)


def flags(questions: Mapping[str, Any] | None = None) -> list[str]:
    """The `matrix: true` questions of copier.yml, then the computed ones that follow from them."""
    questions = load_questions() if questions is None else questions
    asked = [
        name
        for name, spec in questions.items()
        if isinstance(spec, dict) and spec.get("matrix") is True
    ]
    computed = [
        name
        for name, spec in questions.items()
        if isinstance(spec, dict)
        and spec.get("when") is False
        and named(str(spec.get("default", "")), asked)
    ]
    return asked + computed


def named(expression: str, names: Iterable[str]) -> set[str]:
    """Which of `names` the expression names, as whole words."""
    return {name for name in names if re.search(rf"\b{re.escape(name)}\b", expression)}


def template_shape(
    source: Path = TEMPLATE_SOURCE, flag_names: Iterable[str] | None = None
) -> Shape:
    """The counts of `source` (template/src unless told otherwise)."""
    chosen = list(flags() if flag_names is None else flag_names)
    main = total = use_auth = 0
    compound = []
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text()
        expressions = CONDITIONAL.findall(text)
        total += len(expressions)
        if path.name in MAIN_MODULE and path.parent.parent == source:
            main += len(expressions)
        if named(text, ["use_auth"]):
            use_auth += 1
        relative = path.relative_to(source)
        compound += [
            f"{relative}: {' '.join(expression.split())}"
            for expression in expressions
            if len(named(expression, chosen)) > 1
        ]
    return Shape(main, total, use_auth, tuple(compound))
