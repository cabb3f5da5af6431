"""The fast engine's parts: the merged arrival clock, the packed event log, the streamed log."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import simpy
from simpy.events import Timeout

import gridsim
from gridsim.model import orders
from gridsim.model.clock import Clock
from gridsim.model.loader import with_overrides
from gridsim.model.orders import LOG_DTYPE, EventLog

# ----------------------------------------------------------------------------- the clock


def _story(times, handle, use_clock):
    """The (time, label) sequence of a tiny model: arrivals that schedule follow-ups."""
    seen: list[tuple[float, str]] = []
    env = Clock() if use_clock else simpy.Environment()

    def later(delay, label):
        def fire(ev):
            seen.append((env.now, label))
            for d, child in handle.get(label, []):
                later(d, child)

        if use_clock:
            env.wake(delay, fire, None)
        else:
            Timeout(env, delay, None).callbacks.append(fire)

    def arrive(i):
        seen.append((env.now, f"a{i}"))
        for d, child in handle.get(f"a{i}", []):
            later(d, child)

    if use_clock:
        i = 0
        for until in (1.0, 2.0, 3.0, 10.0):
            i = env.run_merged(times, arrive, until, i)
    else:  # the arrivals as the engine scheduled them before: a Timeout each, chained

        def on_arrival(ev):
            i = ev._value
            if i + 1 < len(times):
                Timeout(env, times[i + 1] - env.now, i + 1).callbacks.append(on_arrival)
            arrive(i)

        Timeout(env, times[0], 0).callbacks.append(on_arrival)
        for until in (1.0, 2.0, 3.0, 10.0):
            env.run(until=until)
    return seen


@pytest.mark.parametrize(
    "times, handle",
    [
        # Ties everywhere: follow-ups at the time of the next arrival, at zero delay, at
        # the chunk boundaries (1, 2, 3) and at the same time as each other.
        ([0.5, 0.5, 1.0, 1.5, 2.0, 2.0, 2.5],
         {"a0": [(0.0, "x"), (0.5, "y"), (1.0, "z")], "a1": [(0.5, "w"), (0.0, "v")],
          "y": [(0.0, "y2"), (1.0, "y3")], "a3": [(0.5, "u"), (0.5, "u2")],
          "a4": [(0.0, "t"), (0.5, "s")], "z": [(0.5, "r")]}),
        ([1.0, 1.0, 1.0], {"a0": [(0.0, "x"), (0.0, "x2")], "x": [(0.0, "xx")]}),
        ([0.25], {"a0": [(2.75, "end"), (9.75, "never")]}),
    ],
)  # fmt: skip
def test_the_merged_clock_keeps_simpys_order_of_timeouts(times, handle):
    assert _story(times, handle, use_clock=True) == _story(times, handle, use_clock=False)


def test_nothing_at_or_after_until_runs_and_the_clock_ends_there():
    env = Clock()
    seen = []
    env.wake(2.0, lambda ev: seen.append("late"), None)
    assert env.run_merged([0.5, 2.0], lambda i: seen.append(i), 2.0) == 1
    assert seen == [0] and env.now == 2.0
    assert env.run_merged([0.5, 2.0], lambda i: seen.append(i), 3.0, 1) == 2
    assert seen == [0, "late", 1]


def test_a_wake_is_an_ordinary_simpy_event():
    env = Clock()
    got = []
    env.wake(1.5, lambda ev: got.append((env.now, ev.value)), "hello")
    env.run()
    assert got == [(1.5, "hello")]
    with pytest.raises(ValueError):
        env.wake(-1.0, lambda ev: None, None)


# ----------------------------------------------------------------------------- the log


def test_the_packed_log_gives_typed_columns():
    log = EventLog()
    rows = [(0.5, 3, -1, 2, 1, 40, 7, 1.25), (1e6 + 0.1, 2**31 - 1, 12, 9, -1, 0, -1, 1 / 3)]
    for row in rows:
        log.write(log.pack(*row))
    cols = log.columns()
    assert list(cols) == list(LOG_DTYPE.names) and len(log) == 2
    expected = np.array(rows, dtype=LOG_DTYPE)
    for name in LOG_DTYPE.names:
        assert cols[name].dtype == LOG_DTYPE[name]
        np.testing.assert_array_equal(cols[name], expected[name])
    log.write(log.pack(*rows[0]))  # the buffer grows again after columns()
    assert len(log) == 3


def test_a_disabled_log_keeps_nothing():
    log = EventLog(enabled=False)
    log.write(log.pack(0.5, 3, -1, 2, 1, 40, 7, 1.25))
    assert len(log) == 0 and all(len(c) == 0 for c in log.columns().values())


def test_a_sink_gets_the_rows_in_chunks():
    chunks = []
    log = EventLog(sink=chunks.append, flush_rows=3)
    for k in range(7):
        log.write(log.pack(float(k), k, -1, 0, 0, 0, -1, 0.0))
        log.flush()
    log.flush(everything=True)
    assert [len(c["time"]) for c in chunks] == [3, 3, 1]
    assert np.concatenate([c["order"] for c in chunks]).tolist() == list(range(7))
    assert len(log) == 0 and log.rows_flushed == 7


# ----------------------------------------------------------------------------- streaming


def test_the_streamed_log_is_the_in_memory_log(one_town, tmp_path, monkeypatch):
    monkeypatch.setattr(orders, "FLUSH_ROWS", 700)  # several row groups in a short run
    # Raised incident hazards, so that the incident events (added after the run) are in it.
    one_town = with_overrides(one_town, {
        f"categories.{c.key}.incident.{name}": value
        for c in one_town.categories if c.incident is not None
        for name, value in (("probability_within_scale", 0.5), ("scale_days", 7))
    })  # fmt: skip
    kept = gridsim.simulate(one_town, seed=5, days=20)
    path = tmp_path / "events.parquet"
    streamed = gridsim.simulate(one_town, seed=5, days=20, events_path=path)
    assert kept.events_path is None and streamed.events_path == str(path)
    assert len(streamed.events) == 0
    assert streamed.events.dtypes.to_dict() == kept.events.dtypes.to_dict()
    assert pq.ParquetFile(path).num_row_groups > 2
    on_disk = pd.read_parquet(path)
    assert on_disk.dtypes.to_dict() == kept.events.dtypes.to_dict()
    in_time_order = on_disk.sort_values("time", kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(in_time_order, kept.events)
    assert (kept.events["event"] == gridsim.model.vocabulary.INCIDENT).any()  # incidents too
    same = [k for k in kept.kpis if kept.kpis[k] == streamed.kpis[k]
            or (math.isnan(kept.kpis[k]) and math.isnan(streamed.kpis[k]))]  # fmt: skip
    assert same == list(kept.kpis)
    pd.testing.assert_frame_equal(streamed.orders, kept.orders)


def test_no_log_writes_no_file(one_town, tmp_path):
    path = tmp_path / "events.parquet"
    r = gridsim.simulate(one_town, seed=5, days=5, log_events=False, events_path=path)
    assert not path.exists() and r.events_path is None and len(r.events) == 0
