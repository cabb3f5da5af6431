"""Request logs: read a real log of residents' requests into one clean table.

A request log is a CSV file with one row per request (an appeal, a 311 call, a 12345 work
order): when it was created, when it was closed (blank while still open), its category, the
channel it came by and the unit that handled it. :func:`read_log` reads one into a
:class:`RequestLog` whose ``data`` table has the same five columns whatever the source
schema, so :mod:`gridsim.calibration.calibrate` can fit a scenario to it.

Rows that cannot be used (an unparseable date, a request closed before it was created or
after the log was exported, a time to close longer than :data:`MAX_YEARS_TO_CLOSE` years,
no category) are never dropped silently: they are listed in ``RequestLog.bad_rows`` with a
reason and counted in :meth:`RequestLog.summary`. Problems with the file as a whole (missing
file, empty file, missing columns, no date that parses, no usable row, a date format that is
not one) raise :class:`LogError`, whose message is one line naming the file, the column and
what was expected.

Times are naive local timestamps: a UTC offset at the end of a date (``+08:00``, ``Z``) is
ignored, so a log keeps its own wall-clock times. Durations are in hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
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

#: The longest credible time to close, in years of 365.25 days; a longer one is a bad row.
#: A typo in the year or a placeholder date (2999-12-31) would otherwise calibrate handling
#: times of millions of hours. Real logs do close requests years later (the NYC sample has
#: one closed after four years), hence a generous bound.
MAX_YEARS_TO_CLOSE = 5
MAX_HOURS_TO_CLOSE = MAX_YEARS_TO_CLOSE * 365.25 * 24
#: Without an export date, a log is taken as exported this long after its latest created
#: date: the request created last may have run the longest credible time to close.
EXPORT_MARGIN = pd.Timedelta(hours=MAX_HOURS_TO_CLOSE)

# Bad-row reasons, in the order they are checked: a row gets the first that applies.
CREATED_MISSING = "created date missing"
CREATED_UNPARSEABLE = "created date unparseable"
CLOSED_UNPARSEABLE = "closed date unparseable"
CREATED_AFTER_EXPORT = "created after the export"
CLOSED_AFTER_EXPORT = "closed after the export"
CLOSED_BEFORE_CREATED = "closed before created"
CLOSED_AT_CREATED = "closed at the same time as created"
CLOSED_TOO_LATE = f"time to close over {MAX_YEARS_TO_CLOSE} years"
CATEGORY_MISSING = "category missing"

# strptime directives a date format may use. %c, %x and %X stand for several others (in the
# C locale), which must not appear twice in one format.
_DIRECTIVES = set("aAwdbBmyYHIpMSfzZjUWGuV")
_COMPOUND = {"c": "abdHMSY", "x": "mdy", "X": "HMS"}
# A UTC offset (or Z) after a time of day: dropped, as times are local wall-clock times.
_OFFSET = re.compile(
    r"(\d:\d\d(?::\d\d)?(?:[.,]\d+)?)\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)$", re.IGNORECASE
)


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
        export: when the log was exported: the date given to :func:`read_log`, else the
            latest created date plus :data:`EXPORT_MARGIN`. No usable row was created or
            closed after it.
        export_given: whether ``export`` was given (rather than assumed).
    """

    path: Path
    schema: str
    columns: dict[str, str]
    data: pd.DataFrame
    bad_rows: pd.DataFrame
    n_rows: int
    export: pd.Timestamp | None = None
    export_given: bool = False

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

    def _export_text(self) -> str:
        if self.export is None:
            return "export date unknown"
        how = "given" if self.export_given else f"latest created + {MAX_YEARS_TO_CLOSE} years"
        return (
            f"exported {self.export:%Y-%m-%d %H:%M} ({how}); times to close over "
            f"{MAX_YEARS_TO_CLOSE} years are bad rows"
        )

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
            f"  {self._export_text()}",
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
    export_date: str | date | None = None,
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
        export_date: when the log was exported (ISO 8601, e.g. ``"2024-07-01"``, midnight
            at its start). Requests created or closed after it are bad rows. Default: the
            latest created date plus :data:`EXPORT_MARGIN` (5 years).

    Returns:
        The log: usable rows in ``data``, the others in ``bad_rows`` with a reason.

    Raises:
        LogError: the file is missing, empty, not a CSV, lacks a column, the date format is
            not a valid one, no created date parses, or no row is usable. The message is
            one line naming the file and the column.
        UserError: ``export_date`` is not a date (named ``--export-date``).

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
    export = _export_date(export_date)
    raw = _read_csv(path)
    _check_columns(path, schema, raw, mapping)
    try:
        created = _parse_dates(raw[mapping["created"]], fmt)
        closed = _parse_dates(raw[mapping["closed"]], fmt)
    except ValueError as error:  # a format pandas refuses (e.g. '%%V', read as %V)
        # Checked up front where we know the rule; this catches what pandas alone refuses.
        _bad_format(path, fmt or "", str(error).splitlines()[0] if str(error) else "")
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
    if export is None:
        export = table["created"].max() + EXPORT_MARGIN
    reason, value = _bad_row_reasons(raw, mapping, table, export)
    bad = reason.notna()
    bad_rows = pd.DataFrame(
        {"row": table.loc[bad, "row"], "reason": reason[bad], "value": value[bad]}
    ).reset_index(drop=True)
    data = table.loc[~bad].reset_index(drop=True)
    if data.empty:
        counts = bad_rows["reason"].value_counts()
        why = ", ".join(f"{n} {reason}" for reason, n in counts.items())
        raise LogError(path, "", f"at least one usable request; all {len(raw)} rows are bad: {why}")
    data["hours_to_close"] = (data["closed"] - data["created"]).dt.total_seconds() / 3600
    given = export_date is not None
    return RequestLog(path, schema, mapping, data, bad_rows, len(raw), export, given)


# --------------------------------------------------------------------------- helpers


def _schema_mapping(
    path: Path, schema: str, columns: dict[str, str] | None, date_format: str | None
) -> tuple[dict[str, str], str | None]:
    unknown = set(columns or {}) - set(FIELDS)
    if unknown:
        raise LogError(path, "", f"columns keys among {', '.join(FIELDS)}, not {sorted(unknown)}")
    if date_format is not None:
        _check_date_format(path, date_format)
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


def _check_date_format(path: Path, fmt: str) -> None:
    """Raise :class:`LogError` unless pandas can parse dates with ``fmt``.

    pandas raises on a bad format before looking at any value; the rules it applies are
    checked here first, so that the user gets one line instead of a traceback.

    Example:
        >>> _check_date_format(Path("log.csv"), "%d.%m.%Y %H:%M")
        >>> _check_date_format(Path("log.csv"), "%Q")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        gridsim.calibration.logs.LogError: log.csv: date_format '%Q': a strftime format ...
    """
    found: list[str] = []
    parts = iter(fmt)
    for char in parts:
        if char != "%":
            continue
        code = next(parts, "")
        if code == "%":
            continue
        if code not in _DIRECTIVES and code not in _COMPOUND:
            shown = f"%{code}" if code else "a lone % at the end"
            _bad_format(path, fmt, f"{shown} is not a directive")
        found += list(_COMPOUND.get(code, code))
    twice = sorted({c for c in found if found.count(c) > 1})
    if twice:
        _bad_format(path, fmt, f"%{twice[0]} appears twice")
    rule = _directive_rule(set(found))
    if rule:
        _bad_format(path, fmt, rule)


def _directive_rule(codes: set[str]) -> str:
    """The rule of week-based dates a set of directives breaks, or ``""``."""
    weekday = bool(codes & set("aAwu"))
    if codes & set("UW") and not (codes & set("Yy") and codes & set("aAw")):
        return "%U and %W need a year (%Y or %y) and a weekday (%a, %A or %w)"
    if codes & set("GV") and not ({"G", "V"} <= codes and weekday):
        return "%G and %V go together, with a weekday (%a, %A, %w or %u)"
    if "G" in codes and codes & set("Yj"):
        return "the ISO year %G cannot be combined with %Y or %j"
    return ""


def _bad_format(path: Path, fmt: str, why: str) -> None:
    raise LogError(
        path, "", f"date_format {fmt!r}: a strftime format such as '%d.%m.%Y %H:%M' ({why})"
    )


def _export_date(given: str | date | None) -> pd.Timestamp | None:
    """The export date given as an option, parsed like a log's dates; None if not given."""
    if given is None:
        return None
    parsed = _parse_dates(pd.Series([str(given)]), None).iloc[0]
    if pd.isna(parsed):
        raise UserError("", "--export-date", f"a date such as 2024-07-01, not {str(given)!r}")
    return pd.Timestamp(parsed)


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
    """Parse dates as naive wall-clock times; a value that does not parse becomes NaT.

    A trailing UTC offset is dropped (with ``%z`` from the format), so that every time is
    the log's own local time. Offsets that remain (in odd places) are converted to UTC
    rather than mixed with naive times, which pandas refuses.
    """
    text = values.str.strip()
    if fmt is None or "%z" in fmt:  # a format with %Z (a zone's name) keeps the names
        text = text.str.replace(_OFFSET, r"\1", regex=True)
    if fmt is not None:
        fmt = re.sub(r"\s*%z", "", fmt)
        return _naive(pd.to_datetime(text, format=fmt, errors="coerce", utc=True))
    parsed = _naive(pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True))
    retry = parsed.isna() & (text != "")
    if retry.any():
        # Not ISO 8601: let pandas infer each value (month first), as a last resort.
        again = pd.to_datetime(text[retry], format="mixed", errors="coerce", utc=True)
        parsed[retry] = _naive(again)
    return parsed


def _naive(parsed: pd.Series) -> pd.Series:
    """UTC times as naive ones (values without an offset were taken as UTC: unchanged)."""
    return parsed.dt.tz_localize(None)


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
    raw: pd.DataFrame, mapping: dict[str, str], table: pd.DataFrame, export: pd.Timestamp
) -> tuple[pd.Series, pd.Series]:
    created_text = raw[mapping["created"]].str.strip().reset_index(drop=True)
    closed_text = raw[mapping["closed"]].str.strip().reset_index(drop=True)
    duration = table["closed"] - table["created"]
    checks = [
        (created_text == "", CREATED_MISSING, created_text),
        (table["created"].isna(), CREATED_UNPARSEABLE, created_text),
        ((closed_text != "") & table["closed"].isna(), CLOSED_UNPARSEABLE, closed_text),
        (table["created"] > export, CREATED_AFTER_EXPORT, created_text),
        (table["closed"] > export, CLOSED_AFTER_EXPORT, closed_text),
        (duration < pd.Timedelta(0), CLOSED_BEFORE_CREATED, closed_text),
        (duration == pd.Timedelta(0), CLOSED_AT_CREATED, closed_text),
        (duration > pd.Timedelta(hours=MAX_HOURS_TO_CLOSE), CLOSED_TOO_LATE, closed_text),
        (table["category"] == "", CATEGORY_MISSING, table["category"]),
    ]
    reason = pd.Series([None] * len(table), dtype=object)
    value = pd.Series([""] * len(table), dtype=object)
    for mask, why, shown in checks:
        new = mask.to_numpy() & reason.isna().to_numpy()
        reason[new] = why
        value[new] = shown[new]
    return reason, value
