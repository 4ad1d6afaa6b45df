"""The matrix machinery on a synthetic questionnaire: dimensions, ids, pairwise, traces; the
capacity that says how many combinations run at once, and the lock around a shared cache."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import yaml

from kiln_tools.matrix import (
    Combination,
    Derived,
    combinations,
    default_combination,
    dimensions,
    full_suite_ids,
    load_questions,
    pairwise,
    python_samples,
    select,
    trace_problems,
)
from kiln_tools.steps import Capacity, checks_deploy, exclusive, runs_whole_suite

QUESTIONS = yaml.safe_load("""
project_name: {type: str}
python_version: {type: str, choices: ["3.12", "3.13"], default: "3.12"}
use_auth: {type: bool, default: true, trace: {true: ["PyJWT"]}}
use_cache: {type: bool, default: true}
task_queue:
  type: str
  choices: [none, celery, dramatiq]
  default: dramatiq
  matrix: true
  trace: {celery: ["celery=="], dramatiq: ["dramatiq=="]}
use_pgvector: {type: bool, default: false}
use_observability: {type: bool, default: true}
computed: {type: bool, default: true, when: false}
""")


def test_dimensions_are_bool_questions_and_marked_choices_only() -> None:
    names = [dimension.name for dimension in dimensions(QUESTIONS)]
    assert names == ["use_auth", "use_cache", "task_queue", "use_pgvector", "use_observability"]


def test_the_full_product_has_readable_stable_ids() -> None:
    everything = combinations(dimensions(QUESTIONS))
    assert len(everything) == 48
    ids = [combination.id for combination in everything]
    assert len(set(ids)) == 48
    assert "auth-cache-dramatiq-nopgvector-observability" in ids
    assert ids == [combination.id for combination in combinations(dimensions(QUESTIONS))]


def test_pairwise_covers_every_pair_with_far_fewer_cases() -> None:
    dims = dimensions(QUESTIONS)
    chosen = pairwise(dims)
    assert len(chosen) < 12
    for first, second in itertools.combinations(dims, 2):
        for a, b in itertools.product(first.values, second.values):
            assert any(
                c.answers[first.name] == a and c.answers[second.name] == b for c in chosen
            ), (first.name, a, second.name, b)


def test_select_by_id_and_by_flag() -> None:
    everything = combinations(dimensions(QUESTIONS))
    celery = select(everything, flags=["task_queue=celery", "use_auth=false"])
    assert len(celery) == 8
    assert all(c.id.startswith("noauth-") and "-celery-" in c.id for c in celery)
    assert [c.id for c in select(everything, only=[celery[0].id])] == [celery[0].id]


def test_traces_must_be_present_when_on_and_absent_when_off(tmp_path: Path) -> None:
    dims = dimensions(QUESTIONS)
    by_id = {c.id: c for c in combinations(dims)}
    (tmp_path / "pyproject.toml").write_text('"PyJWT==2", "celery==5"\n')
    on = by_id["auth-cache-celery-nopgvector-observability"]
    assert trace_problems(tmp_path, dims, on, computed=[]) == []
    off = by_id["noauth-cache-dramatiq-nopgvector-observability"]
    problems = trace_problems(tmp_path, dims, off, computed=[])
    assert "use_auth=False: 'PyJWT' is left over" in problems
    assert "task_queue=dramatiq: 'celery==' is left over" in problems
    assert "task_queue=dramatiq: 'dramatiq==' is missing" in problems


def test_a_computed_value_is_traced_by_what_the_answers_make_it(tmp_path: Path) -> None:
    dims = dimensions(QUESTIONS)
    by_id = {c.id: c for c in combinations(dims)}
    broker = Derived("uses_broker", "{{ task_queue != 'none' }}", {True: ("BROKER_URL",)})
    (tmp_path / ".env.example").write_text("BROKER_URL=\n")

    def broker_problems(combination_id: str) -> list[str]:
        problems = trace_problems(tmp_path, dims, by_id[combination_id], computed=[broker])
        return [problem for problem in problems if problem.startswith("uses_broker")]

    assert broker_problems("noauth-nocache-celery-nopgvector-noobservability") == []
    assert broker_problems("noauth-nocache-none-nopgvector-noobservability") == [
        "uses_broker=False: 'BROKER_URL' is left over"
    ]


def test_the_real_questionnaire_gives_a_default_combination() -> None:
    dims = dimensions(load_questions())
    assert default_combination(dims) in combinations(dims)


def test_the_deploy_checks_run_for_every_shape_of_the_manifests_and_their_settings() -> None:
    questions = load_questions()
    dims = dimensions(questions)
    checked = [combination for combination in combinations(dims) if checks_deploy(combination)]
    assert len(checked) == len(combinations(dims)) // 2
    shaping = ("use_auth", "use_cache", "task_queue", "use_observability")
    shapes = {tuple(combination.answers[name] for name in shaping) for combination in checked}
    every_shape = itertools.product(
        *(next(d for d in dims if d.name == name).values for name in shaping)
    )
    assert shapes == set(every_shape)
    assert {combination.answers["use_pgvector"] for combination in checked} == {True, False}
    assert checks_deploy(default_combination())


def test_the_whole_suite_runs_where_every_three_flag_values_meet() -> None:
    """copier.yml's questionnaire: a third of the combinations, in which any three answers to
    three questions appear together, the samples' three among them; and every sample."""
    dims = dimensions()
    everything = combinations(dims)
    chosen = [combination for combination in everything if runs_whole_suite(combination)]
    assert {combination.id for combination in chosen} == full_suite_ids()
    assert len(chosen) <= len(everything) // 3
    for three in itertools.combinations(dims, 3):
        for values in itertools.product(*(dimension.values for dimension in three)):
            assert any(
                all(c.answers[d.name] == v for d, v in zip(three, values, strict=True))
                for c in chosen
            ), [(d.name, v) for d, v in zip(three, values, strict=True)]
    sampled = python_samples(dims, ["3.12"])
    assert all(runs_whole_suite(sample) for sample in sampled)
    assert {sample.id.removeprefix("py312-") for sample in sampled} <= full_suite_ids()
    assert default_combination().id in full_suite_ids()
    # Anything else checked runs it whole: the update tests' projects, the default apart.
    assert runs_whole_suite(Combination("update-default", default_combination().answers))


def test_a_raised_capacity_lets_the_waiting_combinations_start() -> None:
    capacity = Capacity(1)
    capacity.acquire()
    started = threading.Semaphore(0)

    def start() -> None:
        capacity.acquire()
        started.release()

    for _ in range(2):
        threading.Thread(target=start, daemon=True).start()
    assert not started.acquire(timeout=0.2)

    capacity.raise_to(2)
    assert started.acquire(timeout=5)
    assert not started.acquire(timeout=0.2)
    capacity.release()
    assert started.acquire(timeout=5)


def test_a_shared_cache_has_one_user_at_a_time(tmp_path: Path) -> None:
    lock_file = tmp_path / "cache.lock"
    entered = threading.Event()

    def enter() -> None:
        with exclusive(lock_file):
            entered.set()

    with exclusive(lock_file):
        other = threading.Thread(target=enter, daemon=True)
        other.start()
        assert not entered.wait(0.2)
    assert entered.wait(5)
    other.join(5)
