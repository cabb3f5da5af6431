"""A work order in flight and the compact event log: the engine's per-order records.

``Order`` is the mutable state of one work order while the engine handles it; when the run
ends, ``gridsim.model.records`` turns the orders into a table. ``EventLog`` appends eight
numbers per lifecycle event to one flat array of doubles and cuts it into typed numpy
columns after the run (or every so often, for a log streamed to a file).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable

import numpy as np

from gridsim.model.vocabulary import NO_LEVEL

LOG_DTYPE = np.dtype(
    [("time", "f8"), ("order", "i4"), ("appeal", "i4"), ("event", "i1"), ("level", "i1"),
     ("unit", "i4"), ("staff", "i4"), ("value", "f4")]
)  # fmt: skip
LOG_FIELDS = len(LOG_DTYPE.names or ())
#: One row of the event log, in LOG_DTYPE's column order, as the list the engine hands to
#: ``EventLog.add``. In the rows the engine writes, -1 means "none" (no appeal, no level, no
#: staff): a literal, so that per-event code does not look up a global name for it.
LogRow = list[float]
#: Where a streamed log goes, a chunk of columns at a time (``gridsim.model.event_file``).
LogSink = Callable[[dict[str, np.ndarray]], None]


class EventLog:
    """Compact event log: eight doubles per lifecycle event in one flat ``array('d')``.

    ``array.fromlist`` of an eight-item list costs about what appending a tuple to a list
    does, but the row then takes 64 bytes instead of a tuple and its boxed numbers (~200),
    and cutting it into columns is one ``numpy.frombuffer`` instead of a per-row
    ``numpy.fromiter``. Every field fits a double exactly (ids stay far below 2**53).

    With a ``sink``, :meth:`flush` hands the rows held so far to it once there are at least
    ``flush_rows`` of them, and empties the array: a long run never holds its whole log.
    """

    def __init__(self, enabled: bool = True, sink: LogSink | None = None,
                 flush_rows: int = 1_000_000):  # fmt: skip
        self.enabled = enabled
        self.data = array("d")
        self.sink = sink if enabled else None
        self.flush_rows = flush_rows
        self.rows_flushed = 0
        # The engine calls ``add(row)``. When logging is off, a deque that keeps nothing
        # swallows the row in C: cheaper than calling a Python no-op.
        self.add: Callable[[LogRow], None] = (
            self.data.fromlist if enabled else deque(maxlen=0).extend
        )

    def __len__(self) -> int:
        return len(self.data) // LOG_FIELDS

    def columns(self) -> dict[str, np.ndarray]:
        """The rows held in memory as numpy arrays, one per column, with LOG_DTYPE's types."""
        flat = np.frombuffer(self.data, dtype=np.float64).reshape(-1, LOG_FIELDS)
        out = {name: flat[:, k].astype(LOG_DTYPE[name]) for k, name in enumerate(LOG_DTYPE.names or ())}
        del flat  # release the array's buffer, so that it can grow again
        return out

    def flush(self, everything: bool = False) -> None:
        """Hand the rows held to the sink and forget them, if there are enough (or ``everything``).

        Without a sink this does nothing: the rows stay for :meth:`columns`.
        """
        if self.sink is None or not self.data:
            return
        if everything or len(self) >= self.flush_rows:
            self.rows_flushed += len(self)
            self.sink(self.columns())
            del self.data[:]


class Order:
    """A work order in flight (mutable state; turned into a table row at the end)."""

    __slots__ = (
        "id", "issue", "category", "channel", "desk", "origin", "origin_level",
        "urgent", "joint", "priority", "externality", "created", "first_response", "resolved",
        "resolved_level", "escalations", "token", "held", "pending", "proactive", "declined",
        "duplicate", "appeals", "misrouted", "on_time", "satisfied", "level", "limit",
        "brushed_off", "handoff_hours", "false_closure_found", "settle_level",
    )  # fmt: skip
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
        limit: float = math.inf,
        urgent: bool = False,
        joint: bool = False,
        externality: int = 0,
        priority: bool = False,
        duplicate: bool = False,
    ):
        # Everything is set here, once: the engine creates an order per appeal, and each
        # attribute set later from outside would cost as much again.
        self.id = oid
        self.issue = issue
        self.category = category
        self.channel = channel
        self.desk = desk
        self.origin = origin
        self.origin_level = origin_level
        self.settle_level = origin_level
        self.created = created
        self.limit = limit
        self.urgent = urgent
        self.joint = joint
        self.externality = externality
        self.priority = priority
        self.duplicate = duplicate
        self.first_response = math.nan
        self.resolved = math.nan
        self.resolved_level = NO_LEVEL
        self.escalations = 0
        self.token = 0
        self.held: list[tuple[int, int]] = []
        self.pending: list[int] = []
        self.proactive = False
        self.declined = False
        self.appeals = 1
        self.misrouted = False
        self.on_time = math.nan
        self.satisfied = math.nan
        self.level = NO_LEVEL
        self.brushed_off = False
        self.handoff_hours = 0.0
        self.false_closure_found = False
