"""Request logs: read a real log of residents' requests into one clean table.

A request log is a CSV file with one row per request (an appeal, a 311 call, a 12345 work
order): when it was created, when it was closed (blank while still open), its category, the
channel it came by and the unit that handled it. :func:`read_log` reads one into a
:class:`RequestLog` whose ``data`` table has the same five columns whatever the source
schema, so :mod:`gridsim.calibration.calibrate` can fit a scenario to it.

Rows that cannot be used (an unparseable date, a request closed before it was created, no
category) are never dropped silently: they are listed in ``RequestLog.bad_rows`` with a
reason and counted in :meth:`RequestLog.summary`. Problems with the file as a whole (missing
file, empty file, missing columns, no date that parses) raise :class:`LogError`, whose
message is one line naming the file, the column and what was expected.

Times are naive local timestamps; durations are in hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gridsim.errors import UserError

#: The fields of a clean log, in order; ``channel`` and ``unit`` may be absent from a file.
FIELDS: tuple[str, ...] = ("created", "closed", "category", "channel", "unit")
REQUIRED_FIELDS: tuple[str, ...] = ("created", "closed", "category")

#: Column names of the NYC Open Data "311 Service Requests" export.
NYC311_COLUMNS: dict[str, str] = {
    "created": "Created Date",
    "closed": "Closed Date",
    "category": "Complaint Type",
    "channel": "Open Data Channel Type",
    "unit": "Agency",
}
NYC311_DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"

#: Channel or unit of a request whose log leaves it blank (or has no such column).
UNKNOWN = "unknown"

# Bad-row reasons, in the order they are checked: a row gets the first that applies.
CREATED_MISSING = "created date missing"
CREATED_UNPARSEABLE = "created date unparseable"
CLOSED_UNPARSEABLE = "closed date unparseable"
CLOSED_BEFORE_CREATED = "closed before created"
CLOSED_AT_CREATED = "closed at the same time as created"
CATEGORY_MISSING = "category missing"


class LogError(UserError):
    """A request log cannot be read; the message is one readable line.

    Attributes:
        path: the file.
        column: the offending column (``""`` for the whole file).
        expected: what was expected, in words.
    """

    def __init__(self, path: str | Path, column: str, expected: str):
        super().__init__(path, f"column {column!r}" if column else "", " ".join(expected.split()))
        self.column = column


@dataclass
class RequestLog:
    """A request log read by :func:`read_log`.

    Attributes:
        path: the file it was read from.
        schema: ``"nyc311"`` or ``"generic"``.
        columns: the file's column for each field (``created``, ``closed``, ``category`` and,
            if the file has them, ``channel`` and ``unit``).
        data: the usable requests, one row each: ``row`` (1-based data row of the file, the
            header not counted), ``created`` and ``closed`` (Timestamps; ``closed`` is NaT
            for a request still open), ``category``, ``channel`` and ``unit`` (strings,
            ``"unknown"`` when blank or absent) and ``hours_to_close`` (NaN while open).
        bad_rows: the rows left out of ``data``: ``row``, ``reason`` and the offending
            ``value``.
        n_rows: data rows in the file.
    """

    path: Path
    schema: str
    columns: dict[str, str]
    data: pd.DataFrame
    bad_rows: pd.DataFrame
    n_rows: int

    @property
    def n_clean(self) -> int:
        """Usable rows (those in ``data``)."""
        return len(self.data)

    @property
    def n_bad(self) -> int:
        """Rows left out of ``data``."""
        return len(self.bad_rows)

    @property
    def n_closed(self) -> int:
        """Usable rows with a closed date."""
        return int(self.data["closed"].notna().sum())

    @property
    def n_open(self) -> int:
        """Usable rows still open (no closed date)."""
        return int(self.data["closed"].isna().sum())

    @property
    def start(self) -> pd.Timestamp:
        """The first created time."""
        return self.data["created"].min()

    @property
    def end(self) -> pd.Timestamp:
        """The last created time."""
        return self.data["created"].max()

    @property
    def span_hours(self) -> float:
        """Hours from the first to the last created time."""
        return float((self.end - self.start).total_seconds() / 3600)

    def bad_counts(self) -> dict[str, int]:
        """Bad rows by reason, most frequent first.

        Example:
            >>> from gridsim.calibration.logs import read_log, sample_path
            >>> read_log(sample_path()).bad_counts()
            {'closed before created': 1}
        """
        return {str(k): int(v) for k, v in self.bad_rows["reason"].value_counts().items()}

    def summary(self) -> str:
        """Describe the log in a few lines: rows, span, open requests and bad rows.

        Example:
            >>> from gridsim.calibration.logs import read_log, sample_path
            >>> print(read_log(sample_path()).summary().splitlines()[0])  # doctest: +ELLIPSIS
            nyc311 log .../nyc311_2011_sample.csv: 2000 rows, 1999 usable, 1 bad
        """
        lines = [
            f"{self.schema} log {self.path}: {self.n_rows} rows, {self.n_clean} usable, "
            f"{self.n_bad} bad",
            f"  created from {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} "
            f"({self.span_hours / 24:.1f} days)",
            f"  closed: {self.n_closed}, still open (no closed date): {self.n_open}",
            f"  categories: {self.data['category'].nunique()}, "
            f"channels: {self.data['channel'].nunique()}, units: {self.data['unit'].nunique()}",
        ]
        if self.n_bad:
            lines.append("  bad rows, left out of the usable data:")
            for reason, count in self.bad_counts().items():
                rows = self.bad_rows.loc[self.bad_rows["reason"] == reason, "row"].head(3)
                shown = ", ".join(str(r) for r in rows) + (", ..." if count > 3 else "")
                lines.append(f"    {count} {reason} (row {shown})")
        else:
            lines.append("  no bad rows")
        return "\n".join(lines)


def sample_path() -> Path:
    """Return the path of the NYC 311 sample shipped with gridsim (2,000 requests, 2011).

    Example:
        >>> from gridsim.calibration.logs import sample_path
        >>> sample_path().name
        'nyc311_2011_sample.csv'
    """
    return Path(__file__).parent.parent / "data" / "nyc311_2011_sample.csv"


def read_log(
    path: str | Path,
    schema: str = "nyc311",
    columns: dict[str, str] | None = None,
    date_format: str | None = None,
) -> RequestLog:
    """Read a request log (CSV) into a :class:`RequestLog`.

    Args:
        path: the CSV file.
        schema: ``"nyc311"`` (NYC Open Data 311 export: "Created Date", "Closed Date",
            "Complaint Type", "Open Data Channel Type", "Agency"; dates
            ``MM/DD/YYYY hh:mm:ss AM``) or ``"generic"`` (any CSV; name its columns in
            ``columns``).
        columns: field -> column name. Required for ``"generic"``: ``created``, ``closed``
            and ``category``; ``channel`` and ``unit`` are optional (``"unknown"`` when
            absent). With ``"nyc311"`` it overrides single columns of the NYC mapping.
        date_format: a ``strftime`` format for both date columns. Default: the NYC format
            for ``"nyc311"``; ISO 8601 for ``"generic"``, with pandas' per-value inference
            (month first) for values that are not ISO 8601.

    Returns:
        The log: usable rows in ``data``, the others in ``bad_rows`` with a reason.

    Raises:
        LogError: the file is missing, empty, not a CSV, lacks a column, or no created
            date parses. The message is one line naming the file and the column.

    Example:
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> log = read_log(sample_path())
        >>> log.n_rows, log.n_clean, log.n_open
        (2000, 1999, 42)
        >>> sorted(log.data.columns)[:3]
        ['category', 'channel', 'closed']
    """
    path = Path(path)
    mapping, fmt = _schema_mapping(path, schema, columns, date_format)
    raw = _read_csv(path)
    _check_columns(path, schema, raw, mapping)
    created = _parse_dates(raw[mapping["created"]], fmt)
    closed = _parse_dates(raw[mapping["closed"]], fmt)
    _check_some_dates_parse(path, raw[mapping["created"]], created, mapping["created"], fmt, True)
    _check_some_dates_parse(path, raw[mapping["closed"]], closed, mapping["closed"], fmt, False)
    table = pd.DataFrame(
        {
            "row": range(1, len(raw) + 1),
            "created": created.to_numpy(),
            "closed": closed.to_numpy(),
            "category": _text(raw, mapping.get("category"), default=""),
            "channel": _text(raw, mapping.get("channel"), default=UNKNOWN),
            "unit": _text(raw, mapping.get("unit"), default=UNKNOWN),
        }
    )
    reason, value = _bad_row_reasons(raw, mapping, table)
    bad = reason.notna()
    bad_rows = pd.DataFrame(
        {"row": table.loc[bad, "row"], "reason": reason[bad], "value": value[bad]}
    ).reset_index(drop=True)
    data = table.loc[~bad].reset_index(drop=True)
    data["hours_to_close"] = (data["closed"] - data["created"]).dt.total_seconds() / 3600
    return RequestLog(path, schema, mapping, data, bad_rows, len(raw))


# --------------------------------------------------------------------------- helpers


def _schema_mapping(
    path: Path, schema: str, columns: dict[str, str] | None, date_format: str | None
) -> tuple[dict[str, str], str | None]:
    unknown = set(columns or {}) - set(FIELDS)
    if unknown:
        raise LogError(path, "", f"columns keys among {', '.join(FIELDS)}, not {sorted(unknown)}")
    if schema == "nyc311":
        return {**NYC311_COLUMNS, **(columns or {})}, date_format or NYC311_DATE_FORMAT
    if schema == "generic":
        missing = [f for f in REQUIRED_FIELDS if f not in (columns or {})]
        if missing:
            raise LogError(
                path,
                "",
                f"schema 'generic' needs columns={{field: column}} naming at least "
                f"{', '.join(REQUIRED_FIELDS)} (missing: {', '.join(missing)})",
            )
        return dict(columns or {}), date_format
    raise LogError(path, "", f"schema 'nyc311' or 'generic', not {schema!r}")


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise LogError(path, "", "no such file (expected a CSV request log)")
    if path.stat().st_size == 0:
        raise LogError(path, "", "the file is empty (expected a CSV header and request rows)")
    try:
        # Everything as text: dates and codes are parsed explicitly, so that a value that
        # does not parse becomes a reported bad row rather than a silent NaN.
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise LogError(path, "", "the file is blank (expected a CSV header)") from None
    except UnicodeDecodeError:
        raise LogError(path, "", "UTF-8 text (the file is not UTF-8)") from None
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise LogError(path, "", f"a readable CSV file ({first})") from None
    # Exports often pad header cells; a column name should match whatever the padding.
    raw.columns = [str(c).strip() for c in raw.columns]
    if raw.empty:
        raise LogError(path, "", "at least one request row (the file has only a header)")
    return raw


def _check_columns(path: Path, schema: str, raw: pd.DataFrame, mapping: dict[str, str]) -> None:
    missing = [col for col in mapping.values() if col not in raw.columns]
    if not missing:
        return
    present = ", ".join(repr(c) for c in raw.columns)
    names = ", ".join(repr(c) for c in missing)
    raise LogError(
        path,
        missing[0] if len(missing) == 1 else "",
        f"missing column(s) {names} required by schema {schema!r}; the file has {present}",
    )


def _parse_dates(values: pd.Series, fmt: str | None) -> pd.Series:
    text = values.str.strip()
    if fmt is not None:
        return pd.to_datetime(text, format=fmt, errors="coerce")
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    retry = parsed.isna() & (text != "")
    if retry.any():
        # Not ISO 8601: let pandas infer each value (month first), as a last resort.
        parsed[retry] = pd.to_datetime(text[retry], format="mixed", errors="coerce")
    return parsed


def _check_some_dates_parse(
    path: Path, values: pd.Series, parsed: pd.Series, column: str, fmt: str | None, required: bool
) -> None:
    given = values.str.strip() != ""
    if parsed[given].notna().any():
        return
    if not given.any() and not required:
        return  # a blank closed column is a log of requests that are all still open
    expected = f"dates in format {fmt!r}" if fmt else "dates (ISO 8601 or month-first)"
    if given.any():
        detail = f"none of {int(given.sum())} values parse, e.g. {values[given].iloc[0]!r}"
    else:
        detail = "the column is blank"
    raise LogError(path, column, f"{expected}; {detail}")


def _text(raw: pd.DataFrame, column: str | None, default: str) -> pd.Series:
    if column is None:
        return pd.Series([default] * len(raw), dtype=object)
    text = raw[column].str.strip()
    return text.where(text != "", default).reset_index(drop=True)


def _bad_row_reasons(
    raw: pd.DataFrame, mapping: dict[str, str], table: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    created_text = raw[mapping["created"]].str.strip().reset_index(drop=True)
    closed_text = raw[mapping["closed"]].str.strip().reset_index(drop=True)
    duration = table["closed"] - table["created"]
    checks = [
        (created_text == "", CREATED_MISSING, created_text),
        (table["created"].isna(), CREATED_UNPARSEABLE, created_text),
        ((closed_text != "") & table["closed"].isna(), CLOSED_UNPARSEABLE, closed_text),
        (duration < pd.Timedelta(0), CLOSED_BEFORE_CREATED, closed_text),
        (duration == pd.Timedelta(0), CLOSED_AT_CREATED, closed_text),
        (table["category"] == "", CATEGORY_MISSING, table["category"]),
    ]
    reason = pd.Series([None] * len(table), dtype=object)
    value = pd.Series([""] * len(table), dtype=object)
    for mask, why, shown in checks:
        new = mask.to_numpy() & reason.isna().to_numpy()
        reason[new] = why
        value[new] = shown[new]
    return reason, value
