"""Shared fixtures: the repository root, the small scenario, one short cached run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

import gridsim  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def one_town() -> gridsim.Scenario:
    return gridsim.load_scenario(ROOT / "scenarios" / "one_town.toml")


@pytest.fixture(scope="session")
def short_run(one_town) -> gridsim.RunResult:
    """Thirty days of the one-town scenario, seed 11 (shared: do not mutate)."""
    return gridsim.simulate(one_town, seed=11, days=30)
