"""Every flag combination of copier.yml rendered, installed and proven (kiln_tools.steps.STEPS):
static checks and flag traces, `uv sync`, ruff, mypy --strict, imports, migrations round trip
with `alembic check`, production boot to ready, and the generated suite with its coverage gate.
"""

from __future__ import annotations

import pytest

from kiln_tools.matrix import Combination

pytestmark = pytest.mark.slow


def test_combination(combination: Combination, matrix_outcomes: dict[str, str | None]) -> None:
    failure = matrix_outcomes[combination.id]
    assert failure is None, failure
