"""What `kiln bench` prints: a table of each side's medians, each scenario's verdict, the phase
figures of `--phases`; and the figures as JSON (`--json`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from kiln_tools.bench.scenarios import Comparison


def holds(comparison: Comparison) -> bool:
    """The budget holds, and the subject answered every request."""
    return comparison.holds(comparison) and not comparison.subject.errors


def table(results: Sequence[Comparison]) -> list[str]:
    """Per side, the medians over its rounds."""
    header = f"{'scenario':16} {'side':28} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
    lines = [header + f" {'CPU µs/req':>10} {'errors':>6}"]
    for comparison in results:
        for side in (comparison.subject, comparison.baseline):
            lines.append(
                f"{comparison.name:16} {side.label:28} {side.median(lambda r: r.rate):8.0f}"
                f" {side.median(lambda r: r.p50_ms):7.2f} {side.median(lambda r: r.p95_ms):7.2f}"
                f" {side.median(lambda r: r.p99_ms):7.2f} {side.median(lambda r: r.cpu_us):10.0f}"
                f" {side.errors:6d}"
            )
    return lines


def verdicts(results: Sequence[Comparison]) -> list[str]:
    """Per scenario, the median ratio, the ratio of each round and whether the budget holds."""
    lines = []
    for comparison in results:
        ratios = ", ".join(f"{ratio:.2f}" for ratio in comparison.ratios)
        lines.append(
            f"{comparison.name:16} ratio {comparison.ratio:5.2f} (rounds {ratios})"
            f"  budget {comparison.budget}: {'holds' if holds(comparison) else 'MISSED'}"
        )
    return lines


def phase_table(figures: Mapping[str, tuple[float, float, float, float]]) -> list[str]:
    """`phase_percentiles`' figures, after a blank line."""
    lines = ["", f"{'phase (ms)':12} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}"]
    for phase, values in figures.items():
        lines.append(f"{phase:12}" + "".join(f" {value:8.1f}" for value in values))
    return lines


def as_json(results: Sequence[Comparison]) -> str:
    return json.dumps([_figures(comparison) for comparison in results], indent=2)


def _figures(comparison: Comparison) -> dict[str, object]:
    return {
        "scenario": comparison.name,
        "budget": comparison.budget,
        "holds": comparison.holds(comparison),
        "ratio": comparison.ratio,
        "ratios": comparison.ratios,
        "sides": [
            {"label": side.label, "path": side.path, "rounds": [vars(one) for one in side.rounds]}
            for side in (comparison.subject, comparison.baseline)
        ],
    }
