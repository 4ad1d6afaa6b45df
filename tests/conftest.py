"""Fixtures shared by the template tests: one snapshot of the template per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rendering import snapshot_template


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_template(tmp_path_factory.mktemp("template"))
