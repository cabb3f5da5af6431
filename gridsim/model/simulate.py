"""One run, start to finish: seed, build the county, draw the appeals, run the engine, tabulate.

This is the model's front door (``gridsim.simulate``). Each step lives in its own module:
seeds and streams (``seeds``), the county (``county``), who notices what (``attention``),
what each unit can settle (``capability``), the issues drawn up front (``appeals``), the
noticing race (``noticing``), the event-driven handling (``engine``), the tables
(``records``) and the KPIs (``kpis``, ``breakdowns``).
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np

from gridsim.model.appeals import draw_issues
from gridsim.model.attention import plan_attention
from gridsim.model.breakdowns import breakdowns
from gridsim.model.capability import settle_probabilities
from gridsim.model.county import build_county
from gridsim.model.engine import Engine
from gridsim.model.event_file import EventFile
from gridsim.model.guard import check_run
from gridsim.model.kpis import kpis
from gridsim.model.noticing import draw_arrivals
from gridsim.model.records import RunResult, assemble_result
from gridsim.model.scenario import Scenario
from gridsim.model.seeds import make_streams, seed_sequence


def simulate(
    scenario: Scenario,
    seed: int | np.random.SeedSequence | None = None,
    days: float | None = None,
    *,
    log_events: bool = True,
    progress: bool = False,
    events_path: str | Path | None = None,
) -> RunResult:
    """Simulate a scenario once.

    Args:
        scenario: a validated scenario (see :func:`gridsim.load_scenario`).
        seed: an int, or a ``numpy.random.SeedSequence`` (experiments pass
            ``SeedSequence(root, spawn_key=(replication,))``); ``None`` uses ``meta.seed``.
        days: simulated days; ``None`` uses ``meta.horizon_days``.
        log_events: keep the event log (turn off to save memory in large sweeps).
        progress: show a progress bar over simulated days.
        events_path: stream the event log to this Parquet file (zstd, a row group per
            million rows or so) instead of keeping it in memory: for long horizons. The
            result's ``events`` is then empty and its ``events_path`` says where the log
            went. The file's rows are in the order the engine recorded them, then the
            incident events; sorted by ``time`` (stable) they are exactly the ``events`` of
            the same run kept in memory (``gridsim.model.event_file``). Ignored when
            ``log_events`` is off.

    Raises:
        ScenarioError: ``days`` is not a sane horizon, the warm-up is not shorter than it,
            or the run would exceed the memory bound (``gridsim.model.guard``); checked
            before anything is built.

    Returns:
        A :class:`gridsim.model.records.RunResult`. The conservation invariant (every appeal is
        merged, resolved or still open) is checked before it is returned.

    Example:
        >>> import gridsim
        >>> s = gridsim.load_scenario("scenarios/one_town.toml")
        >>> r = gridsim.simulate(s, seed=7, days=5)
        >>> r.kpis["appeals"] == len(r.appeals)
        True
    """
    # A run allocates millions of small tuples and no reference cycles; the cyclic garbage
    # collector would rescan them over and over (a third of the run time), so it rests.
    check_run(scenario, days)  # refuse at once what would run out of memory
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _simulate(scenario, seed, days, log_events, progress, events_path)
    finally:
        if collecting:
            gc.enable()


def _simulate(
    scenario: Scenario,
    seed: int | np.random.SeedSequence | None,
    days: float | None,
    log_events: bool,
    progress: bool,
    events_path: str | Path | None,
) -> RunResult:
    root = seed_sequence(seed, scenario.meta.seed)
    horizon = float(days if days is not None else scenario.meta.horizon_days) * 24.0
    rngs = make_streams(root)
    county = build_county(scenario, rngs["county"], rngs["residents"])
    attention = plan_attention(scenario, county)
    settle = settle_probabilities(scenario, county)
    issues = draw_issues(scenario, county, attention, horizon, rngs)
    arrivals = draw_arrivals(scenario, county, attention, settle, issues, horizon, rngs)
    stream = EventFile(events_path) if events_path is not None and log_events else None
    try:
        sink = stream.write if stream is not None else None
        engine = Engine(scenario, county, issues, arrivals, rngs, horizon, log_events, settle, sink)
        del issues  # the engine holds them, and lets the tables' part go when it is done
        if progress:
            from tqdm.auto import tqdm  # only a progress bar needs it: keep imports light

            with tqdm(total=round(horizon / 24), unit="day", desc=scenario.meta.name) as bar:
                engine.run(lambda t: bar.update(round(t / 24) - bar.n))
        else:
            engine.run()
        seed_info = {"entropy": str(root.entropy), "spawn_key": list(root.spawn_key)}
        state = engine.final_state()
        # The engine's per-issue lists, queues and log buffer are not needed for the tables:
        # letting them go before the tables are built lowers the run's peak memory.
        engine.discard()
        del engine, arrivals
        result = assemble_result(state, seed_info)
        del state  # the tables hold what they need: a long run's arrays go now
        if stream is not None:
            # The engine's rows are in the file; what the table holds now is the incidents.
            stream.write_frame(result.events)
            result.events = result.events.iloc[:0].reset_index(drop=True)
            result.events_path = str(stream.path)
    finally:
        if stream is not None:
            stream.close()
    result.kpis = kpis(result, scenario.population, scenario.incentives.yuan_per_point)
    result.breakdowns = breakdowns(result, scenario.incentives.ranking_role)
    return result
