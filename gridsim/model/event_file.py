"""The event log streamed to a Parquet file, a row group at a time, while the run goes on.

``gridsim.simulate(..., events_path=path)`` hands the engine's log to an :class:`EventFile`
every million rows or so (``gridsim.model.orders.EventLog.flush``), so a run of many years
never holds its event log in memory. The file has LOG_DTYPE's columns and types. Its rows
are in the order the engine recorded them, then the incident events (in time order): a
stable sort by ``time`` gives exactly the table ``RunResult.events`` holds for a run kept in
memory. Read it back with ``pandas.read_parquet(path)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.model.orders import LOG_DTYPE

#: Zstandard: the log's small integer columns shrink several-fold at little CPU cost.
CODEC = "zstd"


class EventFile:
    """A Parquet file of event-log rows, written in row groups; :meth:`close` finishes it."""

    def __init__(self, path: str | Path):
        # pyarrow is imported only when a log is streamed: keep ``import gridsim`` light.
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = Path(path)
        self._pa = pa
        self.schema = pa.schema(
            [(name, pa.from_numpy_dtype(LOG_DTYPE[name])) for name in LOG_DTYPE.names or ()]
        )
        self.rows = 0
        self._writer = pq.ParquetWriter(self.path, self.schema, compression=CODEC)

    def write(self, columns: dict[str, np.ndarray]) -> None:
        """Append one row group: LOG_DTYPE's columns, as ``EventLog.columns`` gives them."""
        n = len(columns["time"])
        if n == 0:
            return
        arrays = [
            self._pa.array(np.asarray(columns[f.name], dtype=LOG_DTYPE[f.name]), type=f.type)
            for f in self.schema
        ]
        self._writer.write_table(self._pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += n

    def write_frame(self, events: pd.DataFrame) -> None:
        """Append the rows of an events table (LOG_DTYPE's columns), e.g. the incidents."""
        self.write({name: events[name].to_numpy() for name in LOG_DTYPE.names or ()})

    def close(self) -> None:
        """Finish the file (its footer); it is not a valid Parquet file before."""
        self._writer.close()
