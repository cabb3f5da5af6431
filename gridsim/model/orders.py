"""A work order in flight and the compact records the engine keeps: its per-order state.

``Order`` is the mutable state of one work order while the engine handles it; when the order
is closed (or the run ends) its fields are packed into one row of ``ORDER_ROW`` and the
object is let go. Appeals are packed rows of ``APPEAL_ROW``. ``EventLog`` packs each
lifecycle event into 64 bytes of a growing buffer and cuts the buffer into typed numpy
columns after the run (or every so often, for a log streamed to a file). Packed rows take a
fifth of the memory of the objects and tuples they replace, which is what lets a ten-year
run fit in memory; ``gridsim.model.records`` turns them into tables.
"""

from __future__ import annotations

import io
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from struct import Struct

import numpy as np
from numpy.typing import DTypeLike

from gridsim.model.vocabulary import NO_LEVEL


class RowLayout:
    """A fixed row of named fields: its ``struct`` packing and the numpy dtype that reads it.

    ``fields`` are (name, struct code) pairs; the codes are little-endian, unaligned, so
    that ``numpy.frombuffer`` reads a buffer of packed rows with ``dtype`` exactly.

    Example:
        >>> layout = RowLayout((("id", "q"), ("time", "d"), ("late", "?")))
        >>> rows = RowBuffer(layout)
        >>> rows.write(rows.pack(7, 1.5, True))
        17
        >>> rows.columns({"id": np.int64, "late": bool})
        {'id': array([7]), 'late': array([ True])}
    """

    _NUMPY = {"q": "<i8", "i": "<i4", "h": "<i2", "b": "i1", "d": "<f8", "?": "?"}

    def __init__(self, fields: tuple[tuple[str, str], ...]):
        self.names = tuple(name for name, _ in fields)
        self.struct = Struct("<" + "".join(code for _, code in fields))
        self.dtype = np.dtype([(name, self._NUMPY[code]) for name, code in fields])
        assert self.dtype.itemsize == self.struct.size
        #: Per field, the type of its table column: integers widened to 64 bits.
        self.table_dtypes: dict[str, np.dtype] = {
            name: np.dtype(np.int64 if code in "qihb" else self._NUMPY[code])
            for name, code in fields
        }


class RowBuffer:
    """Rows of one :class:`RowLayout`, packed into one growing buffer.

    Rows go in one after the other as ``write(pack(*values))`` (two C calls, for the
    per-event code) or at a given row with :meth:`put`, and are read as columns
    (:meth:`columns`); :meth:`clear` then lets them go, so that a run's millions of rows are
    not held twice over.
    """

    def __init__(self, layout: RowLayout):
        self.layout = layout
        self.buffer = io.BytesIO()
        self.pack = layout.struct.pack
        self.write = self.buffer.write
        self.size = layout.struct.size

    def __len__(self) -> int:
        return self.buffer.tell() // self.size

    def put(self, k: int, values: Sequence[object]) -> None:
        """Write ``values`` as row ``k`` (rows may come in any order; gaps read as zeros)."""
        self.buffer.seek(k * self.size)
        self.buffer.write(self.pack(*values))

    def set(self, name: str, rows: Sequence[int], value: object) -> None:
        """Set field ``name`` of the given rows (a fix-up after they were packed)."""
        view = self.buffer.getbuffer()
        np.frombuffer(view, dtype=self.layout.dtype)[name][list(rows)] = value
        view.release()

    def columns(self, dtypes: Mapping[str, DTypeLike]) -> dict[str, np.ndarray]:
        """The rows' fields named in ``dtypes``, each as a new array of its dtype."""
        view = self.buffer.getbuffer()
        rows = np.frombuffer(view, dtype=self.layout.dtype)
        out = {name: rows[name].astype(dtype) for name, dtype in dtypes.items()}
        del rows
        view.release()  # so that the buffer can grow again
        return out

    def clear(self) -> None:
        """Forget every row (and give their memory back)."""
        self.buffer.seek(0)
        self.buffer.truncate()


LOG_DTYPE = np.dtype(
    [("time", "f8"), ("order", "i4"), ("appeal", "i4"), ("event", "i1"), ("level", "i1"),
     ("unit", "i4"), ("staff", "i4"), ("value", "f4")]
)  # fmt: skip
#: A log row as the engine packs it: LOG_DTYPE's fields in its order, ``time`` and
#: ``value`` as doubles, the others as 64-bit integers (so packing never rounds; the columns
#: are cast to LOG_DTYPE's narrower types once, in numpy). In the rows the engine writes, -1
#: means "none" (no appeal, no level, no staff): a literal, so that per-event code does not
#: look up a global name for it.
LOG_ROW = RowLayout(
    tuple((name, "d" if name in ("time", "value") else "q") for name in LOG_DTYPE.names or ())
)
#: Rows a streamed log holds before it hands them to its sink (64 MB).
FLUSH_ROWS = 1_000_000
#: Where a streamed log goes, a chunk of columns at a time (``gridsim.model.event_file``).
LogSink = Callable[[dict[str, np.ndarray]], None]


#: A closed order, packed (``Engine`` writes it from the ``Order``'s attributes of these
#: names, in this order). Codes narrower than the table's columns hold every value they
#: can take: categories and channels are a scenario's few dozen, desks and levels a handful.
ORDER_ROW = RowLayout((
    ("id", "q"), ("issue", "q"), ("category", "h"), ("channel", "h"), ("desk", "b"),
    ("origin", "q"), ("created", "d"), ("first_response", "d"), ("resolved", "d"),
    ("resolved_level", "b"), ("escalations", "i"), ("on_time", "d"), ("satisfied", "d"),
    ("proactive", "?"), ("urgent", "?"), ("joint", "?"), ("priority", "?"),
    ("duplicate", "?"), ("declined", "?"), ("externality", "b"), ("appeals", "i"),
    ("brushed_off", "?"), ("false_closure_found", "?"), ("handoff_hours", "d"),
    ("limit", "d"),
))  # fmt: skip
#: An appeal, packed: (issue, order, channel, created, no_smartphone, merged).
APPEAL_ROW = RowLayout((
    ("issue", "q"), ("order", "q"), ("channel", "h"), ("created", "d"),
    ("no_smartphone", "?"), ("merged", "?"),
))  # fmt: skip


class EventLog:
    """Compact event log: each event packed into 64 bytes, appended to one buffer.

    The engine writes a row as ``write(pack(time, order, appeal, event, level, unit, staff,
    value))``: two C calls, as cheap as appending a tuple to a list, but the row then takes
    64 bytes instead of a tuple and its boxed numbers (~200), and cutting the log into
    columns is one ``numpy.frombuffer`` instead of a per-row ``numpy.fromiter``.

    With a ``sink``, :meth:`flush` hands the rows held so far to it once there are at least
    ``flush_rows`` of them (default FLUSH_ROWS), and empties the buffer: a long run never
    holds its whole log.
    """

    def __init__(self, enabled: bool = True, sink: LogSink | None = None,
                 flush_rows: int | None = None):  # fmt: skip
        self.enabled = enabled
        self.rows = RowBuffer(LOG_ROW)
        self.sink = sink if enabled else None
        self.flush_rows = FLUSH_ROWS if flush_rows is None else flush_rows
        self.rows_flushed = 0
        self.pack = self.rows.pack
        # When logging is off, a deque that keeps nothing swallows the row in C: cheaper
        # than calling a Python no-op.
        self.write: Callable[[bytes], object] = self.rows.write
        if not enabled:
            swallow: deque[bytes] = deque(maxlen=0)
            self.write = swallow.append

    def __len__(self) -> int:
        return len(self.rows)

    def columns(self) -> dict[str, np.ndarray]:
        """The rows held in memory as numpy arrays, one per column, with LOG_DTYPE's types."""
        return self.rows.columns({name: LOG_DTYPE[name] for name in LOG_DTYPE.names or ()})

    def flush(self, everything: bool = False) -> None:
        """Hand the rows held to the sink and forget them, if there are enough (or ``everything``).

        Without a sink this does nothing: the rows stay for :meth:`columns`.
        """
        if self.sink is None or not len(self):
            return
        if everything or len(self) >= self.flush_rows:
            self.rows_flushed += len(self)
            self.sink(self.columns())
            self.rows.clear()


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
