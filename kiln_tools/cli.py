"""`kiln`: the maintainer CLI. `kiln matrix list`, `kiln matrix check`, `kiln render ID DEST`,
`kiln bench observability`."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from kiln_tools.bench import observability_cost
from kiln_tools.matrix import Combination, combinations, dimensions, pairwise, select
from kiln_tools.rendering import render, snapshot_template
from kiln_tools.steps import STEPS, Build, Workshop, check_many

app = typer.Typer(no_args_is_help=True, help=__doc__)
matrix_app = typer.Typer(no_args_is_help=True, help="The flag matrix derived from copier.yml.")
app.add_typer(matrix_app, name="matrix")
bench_app = typer.Typer(no_args_is_help=True, help="Throughput of rendered services, side by side.")
app.add_typer(bench_app, name="bench")

OnlyOption = Annotated[list[str] | None, typer.Option("--only", help="Combination id (repeatable)")]
FlagOption = Annotated[list[str] | None, typer.Option("--flag", help="name=value (repeatable)")]
PairwiseOption = Annotated[bool, typer.Option(help="Only a pairwise covering subset")]
Results = dict[str, tuple[Build | None, str]]


def _chosen(only: list[str], flags: list[str], *, pairs: bool) -> list[Combination]:
    dims = dimensions()
    chosen = select(pairwise(dims) if pairs else combinations(dims), only=only, flags=flags)
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
    jobs: Annotated[int, typer.Option("-j", "--jobs", min=1, help="Combinations at once")] = 3,
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
    names = ["render", *(name for name, _ in STEPS)]
    typer.echo("\n" + f"{'combination':32}" + "".join(f"{name:>11}" for name in names) + "  result")
    totals = dict.fromkeys(names, 0.0)
    for combination in chosen:
        build, outcome = results.get(combination.id, (None, "not run"))
        durations = build.durations if build else {}
        for name in names:
            totals[name] += durations.get(name, 0.0)
        cells = "".join(
            f"{durations[name]:>10.1f}s" if name in durations else f"{'-':>11}" for name in names
        )
        typer.echo(f"{combination.id:32}{cells}  {outcome}")
    typer.echo(f"{'total (step time)':32}" + "".join(f"{totals[name]:>10.1f}s" for name in names))
    typer.echo(f"wall clock: {wall:.1f}s for {len(chosen)} combination(s)")


@app.command("render")
def render_combination(
    combination_id: Annotated[str, typer.Argument(help="An id from `kiln matrix list`")],
    destination: Annotated[Path, typer.Argument(help="Folder to render into")],
) -> None:
    """Render one combination of the working tree, to inspect it."""
    (combination,) = _chosen([combination_id], [], pairs=False)
    template = snapshot_template(destination.parent / f".{destination.name}-template")
    render(template, destination, dict(combination.answers))
    typer.echo(f"rendered {combination.id} into {destination}")


@bench_app.command("observability")
def bench_observability(
    rounds: Annotated[int, typer.Option(min=1, help="Alternating rounds per side")] = 5,
    seconds: Annotated[float, typer.Option(min=0.5, help="Length of a round")] = 3.0,
) -> None:
    """`GET /health/live` with `use_observability` on against off (tracing at its default 10 %)."""
    on, off = observability_cost(rounds=rounds, seconds=seconds)
    for side in (on, off):
        rates = ", ".join(f"{rate:.0f}" for rate in side.rates)
        typer.echo(f"{side.label:20} median {side.median:7.0f} requests/s  (rounds: {rates})")
    typer.echo(f"ratio on/off: {on.median / off.median:.2f}")


def main() -> None:
    app()
