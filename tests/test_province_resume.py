"""An interrupted province run never leaves a summary over partitions of another run.

A county's summary (``counties/<key>.json``) vouches for its partitions: a resumed run keeps
a county whose summary matches. When a county is computed again with other settings (other
days), its old summary must go before its partitions are rewritten; otherwise a run
interrupted halfway, then resumed with the old settings, would keep the old summary over
half-rewritten tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gridsim.province.run import run_province
from gridsim.province.tasks import CountyTask

ROOT = Path(__file__).resolve().parents[1]
PROVINCE = ROOT / "scenarios" / "provinces" / "synthetic_20.toml"
STOP_AT = "south-shiqiao"


class Interrupted(Exception):
    """The run stopped (a Ctrl-C, a lost client) before this county."""


class StopsAt:
    """A serial executor that stops the run when it reaches one county."""

    name, workers = "serial", 1

    def __enter__(self) -> StopsAt:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, fn: Callable[[CountyTask], Any], specs: Iterable[CountyTask]) -> Iterator[Any]:
        for spec in specs:
            if spec.key == STOP_AT:
                raise Interrupted(spec.key)
            yield fn(spec)


def test_a_county_to_recompute_loses_its_old_summary_first(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_province(PROVINCE, out, executor="serial", days=2, cities=["south"],
                         figures=False)  # fmt: skip
    assert first.computed == 7 and (out / "counties" / f"{STOP_AT}.json").exists()
    with pytest.raises(Interrupted):
        run_province(PROVINCE, out, executor=StopsAt(), days=3, cities=["south"], figures=False)
    # Every county of the days=2 run was due again: none keeps its days=2 summary.
    left = {p.stem for p in (out / "counties").glob("*.json")}
    assert STOP_AT not in left
    again = run_province(PROVINCE, out, executor="serial", days=2, cities=["south"],
                         figures=False)  # fmt: skip
    # The counties computed with days=3 before the stop, and the stopped one, run again.
    assert again.computed == 7 and again.resumed == 0
    cost = ["cpu_s", "wall_s", "simulate_cpu_s", "simulate_wall_s", "peak_rss_mb", "worker"]
    assert again.counties.drop(columns=cost).equals(first.counties.drop(columns=cost))
