"""A work order in flight and the compact event log: the engine's per-order records.

``Order`` is the mutable state of one work order while the engine handles it; when the run
ends, ``gridsim.model.records`` turns the orders into a table. ``EventLog`` appends one
tuple per lifecycle event and packs them into typed numpy columns once, after the run.
"""

from __future__ import annotations

import math

import numpy as np

from gridsim.model.vocabulary import NO_LEVEL

LOG_DTYPE = np.dtype(
    [("time", "f8"), ("order", "i4"), ("appeal", "i4"), ("event", "i1"), ("level", "i1"),
     ("unit", "i4"), ("staff", "i4"), ("value", "f4")]
)  # fmt: skip
#: One row of the event log, in LOG_DTYPE's column order. In the rows the engine writes, -1
#: means "none" (no appeal, no level, no staff): a literal, so that per-event code does not
#: look up a global name for it.
LogRow = tuple[float, int, int, int, int, int, int, float]


class EventLog:
    """Compact event log: one tuple per lifecycle event, packed into typed columns at the end.

    Appending a tuple to a list is the cheapest record Python offers; the packing into
    numpy columns happens once, after the run.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.rows: list[LogRow] = []
        # The engine calls ``add(row)``; when logging is off it is a no-op.
        self.add = self.rows.append if enabled else _ignore

    def columns(self) -> dict[str, np.ndarray]:
        """The log as numpy arrays, one per column."""
        packed = np.fromiter(self.rows, dtype=LOG_DTYPE, count=len(self.rows))
        return {name: packed[name] for name in LOG_DTYPE.names or ()}


def _ignore(row: LogRow) -> None:
    return None


class Order:
    """A work order in flight (mutable state; turned into a table row at the end)."""

    __slots__ = (
        "id", "issue", "category", "channel", "desk", "origin", "origin_level",
        "urgent", "joint", "priority", "externality", "created", "first_response", "resolved",
        "resolved_level", "escalations", "token", "held", "pending", "proactive", "declined",
        "duplicate", "appeals", "misrouted", "on_time", "satisfied", "level", "limit",
        "brushed_off", "handoff_hours", "false_closure_found", "settle_level",
    )  # fmt: skip
    # Set by the engine right after construction (see Engine._new_order).
    settle_level: int
    limit: float
    urgent: bool
    joint: bool
    priority: bool
    externality: int

    def __init__(
        self,
        oid: int,
        issue: int,
        category: int,
        channel: int,
        desk: int,
        origin: int,
        origin_level: int,
        created: float,
    ):
        self.id = oid
        self.issue = issue
        self.category = category
        self.channel = channel
        self.desk = desk
        self.origin = origin
        self.origin_level = origin_level
        self.created = created
        self.first_response = math.nan
        self.resolved = math.nan
        self.resolved_level = NO_LEVEL
        self.escalations = 0
        self.token = 0
        self.held: list[tuple[int, int]] = []
        self.pending: list[int] = []
        self.proactive = False
        self.declined = False
        self.duplicate = False
        self.appeals = 1
        self.misrouted = False
        self.on_time = math.nan
        self.satisfied = math.nan
        self.level = NO_LEVEL
        self.brushed_off = False
        self.handoff_hours = 0.0
        self.false_closure_found = False
