"""deploy/kubernetes against a policy checker, checkov, in every variant the flags render.

Every combination's own tests (tests/deploy, the matrix's `kubernetes` step) render each overlay
with kubectl and validate every object. This adds the policy view, as the generated CI's
`kubernetes` job runs it: no failed check, and each waiver in place, on the object it concerns,
with its reason. The deploy tree changes with the queue and observability flags only (the
others change comments), so six renders cover it.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kiln_tools.rendering import render, template_pins

QUEUES = ["none", "celery", "dramatiq"]


def checkov_command(folder: Path) -> list[str]:
    """checkov as the generated CI runs it: offline (no guideline download), on rendered YAML."""
    uvx = shutil.which("uvx")
    assert uvx, "uvx is not on PATH (.ci/run installs it with uv)"
    return [
        uvx, "--python", "3.13", f"checkov=={template_pins()['checkov']}",
        "--framework", "kubernetes", "--compact", "--skip-download",
        "--output", "json", "--directory", str(folder),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def overlays(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl renders the overlays: it is in this machine's image"
    rendered = tmp_path_factory.mktemp("overlays")
    for queue, observability in itertools.product(QUEUES, [False, True]):
        variant = f"{queue}-{'observability' if observability else 'plain'}"
        answers = {"task_queue": queue, "use_observability": observability, "use_auth": True}
        project = render(template, tmp_path_factory.mktemp(variant) / "p", answers, run_tasks=False)
        for overlay in sorted((project / "deploy" / "kubernetes" / "overlays").iterdir()):
            output = subprocess.run(
                [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True
            ).stdout
            (rendered / f"{variant}-{overlay.name}.yaml").write_text(output)
    return rendered


@pytest.fixture(scope="module")
def results(overlays: Path) -> list[dict[str, Any]]:
    completed = subprocess.run(
        checkov_command(overlays), capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode in {0, 1}, completed.stderr[-3000:]  # 1: a check failed
    report = json.loads(completed.stdout)
    return report if isinstance(report, list) else [report]


def checks(results: list[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    return [check for report in results for check in report["results"].get(outcome, [])]


def test_k10_every_overlay_passes_every_policy_check(results: list[dict[str, Any]]) -> None:
    assert len(checks(results, "passed_checks")) > 100  # the checks did run, on every file
    failed = [
        f"{check['file_path']}: {check['resource']}: {check['check_id']} {check['check_name']}"
        for check in checks(results, "failed_checks")
    ]
    assert failed == []


def test_k10_every_waiver_gives_its_reason(results: list[dict[str, Any]]) -> None:
    skipped = checks(results, "skipped_checks")
    assert skipped  # the waivers are read: a misspelt annotation would make checks fail instead
    for check in skipped:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason.split()) >= 5, (check["resource"], check["check_id"], reason)
