"""The flag matrix, derived from copier.yml, the one source of truth for the questionnaire.

A question is a dimension when it is a `bool` question, or a choice question marked
`matrix: true`. Beside it, `trace:` maps each value to the tokens that must appear in a render with
that value and nowhere in a render without it (dependencies, settings, env keys, services, docs):

    use_cache:
      type: bool
      default: true
      trace:
        true: ["redis==", "REDIS_URL", "docs/cache.md"]

A key `"!none"` stands for every value but `none`. A computed question (`when: false`, its
default a Jinja expression of the answers) is no dimension, but its `trace:` is checked against
its value in each combination.

The default combination renders the project "Kiln Demo" (package `kiln_demo`), as the default
project's tests, the update tests and `kiln bench` expect; every other combination gets a name
from PROJECT_NAMES, by its place in the product, so each shape of name meets every flag value.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from kiln_tools.rendering import REPO_ROOT, rendered_files

# One name per shape that has broken renders before. Three, a number prime to the sizes of the
# dimensions (two or three values), so that each name meets every value of every flag.
PROJECT_NAMES = (
    "Warehouse",  # its package sorts after "tests": the import order of the generated tests
    "Café Übersicht",  # accents, folded into an ASCII slug and package
    "Enterprise Order Fulfilment Svcs",  # a 32-character slug and package, the longest
)


@dataclass(frozen=True)
class Dimension:
    name: str
    values: tuple[Any, ...]
    traces: Mapping[Any, tuple[str, ...]] = field(default_factory=dict)
    default: Any = None

    def label(self, value: Any) -> str:
        """`auth` / `noauth` for a flag, the value itself for a choice."""
        short = self.name.removeprefix("use_")
        if isinstance(value, bool):
            return short if value else f"no{short}"
        return str(value)


@dataclass(frozen=True)
class Derived:
    """A computed question: its value follows from the answers."""

    name: str
    expression: str
    traces: Mapping[Any, tuple[str, ...]]

    def value(self, answers: Mapping[str, Any]) -> bool:
        rendered = jinja2.Environment(autoescape=True).from_string(self.expression)
        return rendered.render(**answers).strip() == "True"


@dataclass(frozen=True)
class Combination:
    id: str
    answers: Mapping[str, Any]


def load_questions(copier_yml: Path = REPO_ROOT / "copier.yml") -> dict[str, Any]:
    questions: dict[str, Any] = yaml.safe_load(copier_yml.read_text())
    return {name: spec for name, spec in questions.items() if not name.startswith("_")}


def dimensions(questions: Mapping[str, Any] | None = None) -> list[Dimension]:
    found = []
    for name, spec in (load_questions() if questions is None else questions).items():
        if not isinstance(spec, dict) or spec.get("when") is False:
            continue
        if spec.get("type") == "bool":
            values: tuple[Any, ...] = (False, True)
        elif spec.get("matrix") and spec.get("choices"):
            choices = spec["choices"]
            values = tuple(choices.values() if isinstance(choices, dict) else choices)
        else:
            continue
        traces = {value: tuple(tokens) for value, tokens in (spec.get("trace") or {}).items()}
        found.append(Dimension(name, values, traces, spec.get("default")))
    return found


def derived(questions: Mapping[str, Any] | None = None) -> list[Derived]:
    found = []
    for name, spec in (load_questions() if questions is None else questions).items():
        if isinstance(spec, dict) and spec.get("when") is False and spec.get("trace"):
            traces = {value: tuple(tokens) for value, tokens in spec["trace"].items()}
            found.append(Derived(name, spec["default"], traces))
    return found


def combinations(dims: Sequence[Dimension]) -> list[Combination]:
    """The full Cartesian product, each with a stable readable id; each but the default one
    with a project name from PROJECT_NAMES, in turn."""
    product = itertools.product(*(dimension.values for dimension in dims))
    defaults = [dimension.default for dimension in dims]
    chosen = []
    for index, values in enumerate(product):
        name = None if list(values) == defaults else PROJECT_NAMES[index % len(PROJECT_NAMES)]
        chosen.append(_combination(dims, values, name))
    return chosen


def _combination(
    dims: Sequence[Dimension], values: Sequence[Any], project_name: str | None = None
) -> Combination:
    labels = [dimension.label(value) for dimension, value in zip(dims, values, strict=True)]
    answers = {dimension.name: value for dimension, value in zip(dims, values, strict=True)}
    if project_name is not None:
        answers["project_name"] = project_name
    return Combination("-".join(labels) or "base", answers)


def default_combination(dims: Sequence[Dimension] | None = None) -> Combination:
    """The combination a user gets with `--defaults`."""
    questions = load_questions()
    dims = dimensions(questions) if dims is None else dims
    return _combination(dims, [questions[dimension.name].get("default") for dimension in dims])


def default_combination_apart() -> Combination:
    """The `--defaults` combination under an id of its own, so its render is a folder of its own:
    the default project's tests use it while the matrix checks the same combination beside them."""
    default = default_combination()
    return Combination(f"defaults-{default.id}", default.answers)


def python_versions(questions: Mapping[str, Any] | None = None) -> tuple[list[str], str]:
    """copier.yml's offered Pythons, as the questionnaire lists them, and the default one."""
    question = (load_questions() if questions is None else questions)["python_version"]
    choices = question["choices"]
    offered = choices.values() if isinstance(choices, dict) else choices
    return [str(version) for version in offered], str(question["default"])


def python_samples(dims: Sequence[Dimension], versions: Sequence[str]) -> list[Combination]:
    """On each of `versions`: every flag on, every flag off, and the `--defaults` answers.

    Every combination runs on the default Python; these prove the others through the same steps.
    "On" takes a choice's value that is neither `none` nor its default (so the three samples
    cover two of its values), "off" takes `none`.
    """
    on = [_on_value(dimension) for dimension in dims]
    off = [False if isinstance(d.default, bool) else _off_value(d) for d in dims]
    defaults = [dimension.default for dimension in dims]
    samples = []
    for version in versions:
        for values in (on, off, defaults):
            base = _combination(dims, values)
            answers = {**base.answers, "python_version": version}
            samples.append(Combination(f"py{version.replace('.', '')}-{base.id}", answers))
    return samples


def _on_value(dimension: Dimension) -> Any:
    if isinstance(dimension.default, bool):
        return True
    others = [v for v in dimension.values if v not in {"none", dimension.default}]
    return others[0] if others else dimension.default


def _off_value(dimension: Dimension) -> Any:
    return "none" if "none" in dimension.values else dimension.values[0]


def full_matrix(dims: Sequence[Dimension] | None = None) -> list[Combination]:
    """What CI checks: every flag combination on the default Python, and the samples of
    `python_samples` on each other offered Python."""
    dims = dimensions() if dims is None else dims
    offered, default = python_versions()
    return combinations(dims) + python_samples(dims, [v for v in offered if v != default])


def pairwise(dims: Sequence[Dimension]) -> list[Combination]:
    """A small subset in which every pair of values of two dimensions appears at least once."""
    return covering(dims, combinations(dims), strength=2)


def value_tuples(
    combination: Combination, dims: Sequence[Dimension], strength: int
) -> set[tuple[tuple[str, Any], ...]]:
    """Every `strength` of its answers taken together, as (question, value) pairs."""
    items = sorted((dimension.name, combination.answers[dimension.name]) for dimension in dims)
    return set(itertools.combinations(items, min(strength, len(items))))


def covering(
    dims: Sequence[Dimension],
    candidates: Sequence[Combination],
    *,
    strength: int,
    starting_with: Sequence[Combination] = (),
    tries: int = 64,
) -> list[Combination]:
    """`starting_with`, then the candidates that add the most uncovered value tuples, until
    every `strength` values of as many dimensions appear together at least once.

    Greedy, with ties broken at random: the smallest of `tries` seeded runs, so the same
    questionnaire always gives the same subset (for Kiln's, 16 combinations cover every three
    values where one order of ties gave 18; no fewer than 15 can).
    """
    everything = set().union(*(value_tuples(c, dims, strength) for c in candidates))
    smallest: list[Combination] | None = None
    for seed in range(tries):
        ties = random.Random(seed)  # noqa: S311 - an order of ties, not a secret
        chosen = list(starting_with)
        uncovered = set(everything)
        for combination in chosen:
            uncovered -= value_tuples(combination, dims, strength)
        while uncovered:
            best = max(
                candidates,
                key=lambda c: (len(value_tuples(c, dims, strength) & uncovered), ties.random()),
            )
            chosen.append(best)
            uncovered -= value_tuples(best, dims, strength)
        if smallest is None or len(chosen) < len(smallest):
            smallest = chosen
    return smallest or list(starting_with)


@functools.cache
def full_suite_ids() -> frozenset[str]:
    """The default Python's combinations whose whole generated suite the matrix runs: every
    three flag values together at least once, starting from the three combinations sampled on
    the other Pythons (`python_samples`).

    Every combination passes the static checks, lint, strict types, its imports, its
    migrations and a boot of the production server; the suite, most of the matrix's cost (its
    workers, faults and load), runs in this cover and in every sample on another Python.
    """
    dims = dimensions()
    everything = combinations(dims)
    # The `--defaults` answers, every flag on and every flag off, as on the other Pythons.
    samples = {sample.id.split("-", 1)[1] for sample in python_samples(dims, ["0"])}
    starting_with = [combination for combination in everything if combination.id in samples]
    chosen = covering(dims, everything, strength=3, starting_with=starting_with)
    return frozenset(combination.id for combination in chosen)


@functools.cache
def suite_left_out_ids() -> frozenset[str]:
    """The default Python's combinations outside `full_suite_ids`: whatever else is checked (a
    sample, a project of the update tests) runs its whole suite."""
    return frozenset(c.id for c in combinations(dimensions())) - full_suite_ids()


def select(
    all_combinations: Iterable[Combination], *, only: Sequence[str] = (), flags: Sequence[str] = ()
) -> list[Combination]:
    """Filter by id (`--only`) and by `name=value` answers (`--flag use_auth=false`); an answer a
    combination leaves out is the question's default (`--flag python_version=3.14`)."""
    wanted = dict(flag.split("=", 1) for flag in flags)
    questions = load_questions() if wanted else {}

    def answer(combination: Combination, name: str) -> Any:
        return combination.answers.get(name, questions.get(name, {}).get("default"))

    return [
        combination
        for combination in all_combinations
        if (not only or combination.id in only)
        and all(
            str(answer(combination, name)).lower() == value.lower()
            for name, value in wanted.items()
        )
    ]


def trace_problems(
    project: Path,
    dims: Sequence[Dimension],
    combination: Combination,
    computed: Sequence[Derived] | None = None,
) -> list[str]:
    """Each flag's tokens present when it is on and absent when it is off, in every text file;
    likewise for the computed values (copier.yml's, unless given)."""
    text = "\n".join(_texts(project))
    chosen_values = [
        (dimension.name, combination.answers[dimension.name], dimension.traces)
        for dimension in dims
    ]
    chosen_values += [
        (value.name, value.value(combination.answers), value.traces)
        for value in (derived() if computed is None else computed)
    ]
    problems = []
    for name, chosen, traces in chosen_values:
        for value, tokens in traces.items():
            wanted = _matches(value, chosen)
            for token in tokens:
                if wanted and token not in text:
                    problems.append(f"{name}={chosen}: {token!r} is missing")
                if not wanted and token in text:
                    problems.append(f"{name}={chosen}: {token!r} is left over")
    return problems


def _matches(trace_key: Any, chosen: Any) -> bool:
    if isinstance(trace_key, str) and trace_key.startswith("!"):
        return str(chosen) != trace_key[1:]
    return bool(trace_key == chosen)


def _texts(project: Path) -> Iterable[str]:
    for path in rendered_files(project):
        try:
            yield f"{path.relative_to(project)}\n{path.read_text()}"
        except UnicodeDecodeError:
            continue
