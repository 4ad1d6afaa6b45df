"""`kiln`: the maintainer CLI. `kiln matrix list`, `kiln matrix check`, `kiln render ID DEST`,
`kiln python list|provision|run`, `kiln bench [SCENARIO]...`, `kiln bench-jobs`, `kiln shape`."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from kiln_tools import pythons
from kiln_tools.bench import report
from kiln_tools.bench.phases import phase_percentiles, phase_probe_env
from kiln_tools.bench.scenarios import SCENARIOS, run_scenarios
from kiln_tools.matrix import Combination, dimensions, full_matrix, pairwise, select
from kiln_tools.rendering import render, snapshot_template
from kiln_tools.shape import template_shape
from kiln_tools.steps import Build, Workshop, check_many, step_table
from kiln_tools.tooling import project_environment

app = typer.Typer(no_args_is_help=True, help=__doc__)
matrix_app = typer.Typer(no_args_is_help=True, help="The flag matrix derived from copier.yml.")
app.add_typer(matrix_app, name="matrix")
python_app = typer.Typer(no_args_is_help=True, help="The Pythons copier.yml offers.")
app.add_typer(python_app, name="python")

OnlyOption = Annotated[list[str] | None, typer.Option("--only", help="Combination id (repeatable)")]
FlagOption = Annotated[list[str] | None, typer.Option("--flag", help="name=value (repeatable)")]
PairwiseOption = Annotated[bool, typer.Option(help="Only a pairwise covering subset")]
Results = dict[str, tuple[Build | None, str]]


def _chosen(only: list[str], flags: list[str], *, pairs: bool) -> list[Combination]:
    dims = dimensions()
    chosen = select(pairwise(dims) if pairs else full_matrix(dims), only=only, flags=flags)
    if not chosen:
        typer.echo("no combination matches", err=True)
        raise typer.Exit(2)
    return chosen


@matrix_app.command("list")
def list_combinations(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    pairs: PairwiseOption = False,
) -> None:
    """Every combination: its id and its answers."""
    chosen = _chosen([], [], pairs=pairs)
    if as_json:
        typer.echo(json.dumps([{"id": c.id, "answers": dict(c.answers)} for c in chosen]))
        return
    for combination in chosen:
        answers = " ".join(f"{k}={v}" for k, v in combination.answers.items()) or "(no flags yet)"
        typer.echo(f"{combination.id:40} {answers}")


@matrix_app.command("check")
def check_combinations(
    only: OnlyOption = None,
    flag: FlagOption = None,
    # As many as `uv run pytest` runs once its other tests are done (`--matrix-jobs-alone`).
    jobs: Annotated[int, typer.Option("-j", "--jobs", min=1, help="Combinations at once")] = 4,
    pairs: PairwiseOption = False,
) -> None:
    """Render, install and prove each chosen combination; a table of step times at the end."""
    chosen = _chosen(only or [], flag or [], pairs=pairs)
    dims = dimensions()
    workshop = Workshop()
    lock = threading.Lock()
    results: Results = {}
    started = time.perf_counter()

    def report(combination_id: str, step: str, seconds: float, ok: bool) -> None:
        with lock:
            mark = "ok" if ok else "FAILED"
            elapsed = time.perf_counter() - started
            typer.echo(f"[{elapsed:6.1f}s] {combination_id}: {step} {mark} ({seconds:.1f}s)")

    failures: dict[str, str] = {}
    try:
        outcomes = check_many(workshop, chosen, dims, jobs=jobs, on_step=report)
        for combination in chosen:
            outcome = outcomes[combination.id]
            verdict = "passed" if outcome is None else "failed: " + outcome.splitlines()[0][:200]
            results[combination.id] = (workshop.build(combination, dims), verdict)
            if outcome is not None:
                failures[combination.id] = outcome
    finally:
        workshop.close()
    for combination_id, outcome in failures.items():
        # The renders are gone with the workshop: the failure's own output is all that is left.
        typer.echo(f"\n--- {combination_id} ---\n{outcome[-4000:]}")
    _table(chosen, results, time.perf_counter() - started)
    if any(outcome != "passed" for _, outcome in results.values()):
        raise typer.Exit(1)


def _table(chosen: list[Combination], results: Results, wall: float) -> None:
    rows = []
    for combination in chosen:
        build, outcome = results.get(combination.id, (None, "not run"))
        rows.append((combination.id, build.durations if build else {}, outcome))
    typer.echo("\n" + "\n".join(step_table(rows, wall)))


@app.command("render")
def render_combination(
    combination_id: Annotated[str, typer.Argument(help="An id from `kiln matrix list`")],
    destination: Annotated[Path, typer.Argument(help="Folder to render into")],
) -> None:
    """Render one combination of the working tree, to inspect it."""
    (combination,) = _chosen([combination_id], [], pairs=False)
    # Kept beside the render, which records it as its template; an earlier render's is replaced.
    snapshot = destination.parent / f".{destination.name}-template"
    shutil.rmtree(snapshot, ignore_errors=True)
    template = snapshot_template(snapshot)
    render(template, destination, dict(combination.answers))
    typer.echo(f"rendered {combination.id} into {destination}")


@app.command("bench")
def bench(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(help=f"Scenarios, default all: {', '.join(SCENARIOS)}", show_default=False),
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, help="Alternating rounds per side")] = 5,
    seconds: Annotated[int, typer.Option(min=1, help="Length of a round, in seconds")] = 5,
    connections: Annotated[int, typer.Option(min=1, help="wrk's open connections")] = 64,
    save: Annotated[Path | None, typer.Option("--json", help="Also write the figures here")] = None,
    phases: Annotated[
        Path | None,
        typer.Option(help="Time each request's phases in the services; one file per process here"),
    ] = None,
    stock_pool: Annotated[
        bool, typer.Option(help="With --phases: SQLAlchemy's own pool queue, not the fair one")
    ] = False,
) -> None:
    """Rendered services against a baseline, A B A B on one machine; exit 1 if a budget fails."""
    unknown = sorted(set(scenarios or ()) - set(SCENARIOS))
    if unknown:
        typer.echo(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
        raise typer.Exit(2)
    if stock_pool and phases is None:
        typer.echo("--stock-pool goes with --phases DIRECTORY")
        raise typer.Exit(2)
    chosen = scenarios or list(SCENARIOS)
    service_env = phase_probe_env(phases, stock_pool=stock_pool) if phases else None
    results = run_scenarios(
        chosen, rounds=rounds, seconds=seconds, connections=connections, service_env=service_env
    )
    for line in report.table(results):
        typer.echo(line)
    typer.echo("")
    for line in report.verdicts(results):
        typer.echo(line)
    if phases is not None:
        for line in report.phase_table(phase_percentiles(phases)):
            typer.echo(line)
    if save is not None:
        save.write_text(report.as_json(results))
    if not all(report.holds(comparison) for comparison in results):
        raise typer.Exit(1)


@app.command("shape")
def shape() -> None:
    """The template's Jinja conditionals, counted as issue 23 budgets them (kiln_tools/shape.py)."""
    counts = template_shape()
    typer.echo(f"conditionals in main.py:        {counts.main_conditionals:4d}")
    typer.echo(f"conditionals in template/src:   {counts.conditionals:4d}")
    typer.echo(f"files naming use_auth:          {counts.use_auth_files:4d}")
    typer.echo(f"compound conditions:            {counts.compound_conditions:4d}")
    for condition in counts.compound:
        typer.echo(f"  {condition}")


@python_app.command("list")
def list_pythons() -> None:
    """Each offered version and where it runs here: the host, its provisioned root, or nowhere."""
    for version in pythons.offered():
        if pythons.on_host(version):
            where = "host"
        elif pythons.is_provisioned(version):
            where = f"root {pythons.root_for(version)}"
        else:
            where = "missing: run .ci/provision"
        default = " (default)" if version == pythons.default() else ""
        typer.echo(f"{version}{default:10} {where}")


@python_app.command("provision")
def provision_pythons(
    versions: Annotated[list[str] | None, typer.Argument(help="Default: every offered one")] = None,
) -> None:
    """Make each offered Python runnable here; a root once built is kept (idempotent)."""
    for version in versions or pythons.offered():
        started = time.perf_counter()
        try:
            root = pythons.provision(version)
        except pythons.MissingPythonError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(1) from None
        where = "on the host" if root is None else f"in {root}"
        typer.echo(f"Python {version}: {where} ({time.perf_counter() - started:.1f}s)")


@python_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def run_in_python(
    context: typer.Context,
    version: Annotated[str, typer.Argument(help="An offered version, e.g. 3.14")],
    project: Annotated[Path, typer.Argument(help="A rendered project")],
) -> None:
    """Run `-- COMMAND...` in PROJECT under VERSION: on the host where it is installed, inside
    its provisioned root where it is not: `kiln python run 3.14 ../my-service -- uv run pytest`.

    The environment is the clean one Kiln's tests use: the shell's DATABASE_URL, REDIS_URL and
    the like stay out (the project starts its embedded services); pass one with `-- env NAME=...`.
    """
    command = list(context.args)
    if version not in pythons.offered():
        offered = ", ".join(pythons.offered())
        typer.echo(f"Python {version} is not offered; choose one of {offered}", err=True)
        raise typer.Exit(2)
    if not command:
        typer.echo("No command: add `-- COMMAND...`", err=True)
        raise typer.Exit(2)
    project = project.resolve()
    if not project.is_dir():
        typer.echo(f"{project} is not a folder: give the rendered project's path", err=True)
        raise typer.Exit(2)
    try:
        argv = pythons.command_in(project, command, version)
    except pythons.MissingPythonError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    environment = pythons.environment_for(version, project_environment())
    # Replaced, not a child: Ctrl-C and the exit status are the command's own.
    os.chdir(project)
    os.execvpe(argv[0], argv, environment)  # noqa: S606 - the maintainer's own command, by design


@app.command("bench-jobs")
def bench_jobs(
    queues: Annotated[
        list[str] | None,
        typer.Argument(help="Queues, default both: dramatiq, celery", show_default=False),
    ] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Jobs per round")] = 300,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds per queue")] = 3,
    notes: Annotated[int, typer.Option(min=0, help="Notes each job recounts")] = 10,
) -> None:
    """Jobs one worker process finishes per second on one core, for each queue."""
    from kiln_tools.bench.jobs import WORKER_OPTIONS, measure_queues, table

    chosen = queues or list(WORKER_OPTIONS)
    unknown = sorted(set(chosen) - set(WORKER_OPTIONS))
    if unknown:
        typer.echo(f"unknown queue {', '.join(unknown)}; choose from {', '.join(WORKER_OPTIONS)}")
        raise typer.Exit(2)
    for line in table(measure_queues(chosen, jobs=jobs, rounds=rounds, notes=notes)):
        typer.echo(line)


def main() -> None:
    app()
