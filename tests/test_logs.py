"""Tests for gridsim.calibration.logs: reading request logs, bad rows and one-line errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridsim.calibration.logs import (
    CATEGORY_MISSING,
    CLOSED_AFTER_EXPORT,
    CLOSED_AT_CREATED,
    CLOSED_BEFORE_CREATED,
    CLOSED_TOO_LATE,
    CLOSED_UNPARSEABLE,
    CREATED_AFTER_EXPORT,
    CREATED_MISSING,
    CREATED_UNPARSEABLE,
    EXPORT_MARGIN,
    MAX_HOURS_TO_CLOSE,
    MAX_YEARS_TO_CLOSE,
    LogError,
    read_log,
    sample_path,
)
from gridsim.errors import UserError

DATA = Path(__file__).parent / "data"
SAMPLE = sample_path()  # the packaged copy (gridsim/data), as users get it
GENERIC_ISO = {
    "created": "opened_at",
    "closed": "resolved_at",
    "category": "topic",
    "channel": "via",
}


@pytest.fixture(scope="module")
def sample():
    return read_log(SAMPLE)


def one_line_error(path, *args, **kwargs) -> str:
    with pytest.raises(LogError) as info:
        read_log(path, *args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# ----------------------------------------------------------------- the shipped sample


def test_sample_row_counts(sample):
    assert sample.n_rows == 2000
    assert sample.n_clean == 1999
    assert sample.n_bad == 1
    assert sample.n_open == 42
    assert sample.n_closed == 1957
    assert sample.n_clean + sample.n_bad == sample.n_rows


def test_sample_bad_row_is_reported_with_reason(sample):
    assert sample.bad_counts() == {CLOSED_BEFORE_CREATED: 1}
    bad = sample.bad_rows.iloc[0]
    # Data row 1603 (file line 1604): a "Smoking" request closed on 01/01/1900.
    assert bad["row"] == 1603
    assert bad["value"] == "01/01/1900 12:00:00 AM"
    assert 1603 not in set(sample.data["row"])
    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    assert raw.iloc[1602]["Complaint Type"] == "Smoking"


def test_sample_dates_parse_with_am_pm(sample):
    first = sample.data.iloc[0]
    assert first["created"] == pd.Timestamp("2011-03-01 14:27:57")  # 02:27:57 PM
    assert first["closed"] == pd.Timestamp("2011-03-14 15:59:20")  # 03:59:20 PM
    assert first["hours_to_close"] == pytest.approx(13 * 24 + 1 + 31 / 60 + 23 / 3600)
    second = sample.data.iloc[1]
    assert second["created"] == pd.Timestamp("2011-03-01 10:41:13")  # 10:41:13 AM
    assert pd.api.types.is_datetime64_any_dtype(sample.data["created"])
    assert pd.api.types.is_datetime64_any_dtype(sample.data["closed"])
    assert sample.start == pd.Timestamp("2011-02-06 14:02:42")
    assert sample.end == pd.Timestamp("2011-11-03 16:25:00")
    assert sample.span_hours == pytest.approx((sample.end - sample.start).total_seconds() / 3600)


def test_sample_open_requests_have_no_closed_date(sample):
    open_ = sample.data[sample.data["closed"].isna()]
    assert len(open_) == 42
    assert open_["hours_to_close"].isna().all()
    closed = sample.data[sample.data["closed"].notna()]
    assert (closed["hours_to_close"] > 0).all()


def test_sample_columns_mapped(sample):
    data = sample.data
    assert {"created", "closed", "category", "channel", "unit"} <= set(data.columns)
    assert (data["category"] == "Street Condition").sum() == 274
    assert set(data["channel"]) == {"PHONE", "OTHER", "ONLINE", "UNKNOWN"}
    assert (data["unit"] == "NYPD").sum() == 619
    assert sample.columns["category"] == "Complaint Type"


def test_summary_states_counts_and_reasons(sample):
    text = sample.summary()
    assert "2000 rows, 1999 usable, 1 bad" in text
    assert "1 closed before created (row 1603)" in text
    assert "42" in text


def test_packaged_sample_is_the_documented_file_with_its_notice():
    digest = hashlib.sha256(sample_path().read_bytes()).hexdigest()
    assert digest == "d762ab4dd3dc8c6d12ce51d3e44e4823a86c2628c496e3200329d509665a3931"
    for folder in (sample_path().parent,):
        notice = (folder / "README.md").read_text("utf-8")
        assert "NYC Open Data" in notice
        assert "311 Service Requests" in notice
        assert "tuplex" in notice
        assert "Apache License 2.0" in notice
        assert "convenience extract" in notice


def test_nyc_mapping_can_be_overridden():
    log = read_log(SAMPLE, columns={"unit": "Agency Name"})
    assert "New York City Police Department" in set(log.data["unit"])
    assert log.columns["created"] == "Created Date"


# ----------------------------------------------------------------- generic schema


def test_generic_schema_with_column_mapping():
    log = read_log(DATA / "generic_iso.csv", "generic", GENERIC_ISO)
    assert log.n_rows == 5
    assert log.n_clean == 4
    assert log.bad_counts() == {CLOSED_BEFORE_CREATED: 1}
    assert log.bad_rows["row"].tolist() == [5]
    # Both "2024-01-01T08:00:00" and "2024-01-01 09:30" are ISO 8601.
    assert log.data["created"].tolist()[:2] == [
        pd.Timestamp("2024-01-01 08:00"),
        pd.Timestamp("2024-01-01 09:30"),
    ]
    assert log.data["hours_to_close"].tolist()[:2] == [2.0, 24.0]
    assert set(log.data["unit"]) == {"unknown"}  # no unit column mapped
    assert log.data["channel"].tolist() == ["App", "Hotline", "Hotline", "Walk-in"]
    assert log.n_open == 1


def test_generic_schema_with_date_format():
    columns = {
        "created": "eingang",
        "closed": "erledigt",
        "category": "art",
        "channel": "kanal",
        "unit": "amt",
    }
    log = read_log(DATA / "generic_dayfirst.csv", "generic", columns, date_format="%d.%m.%Y %H:%M")
    assert log.n_clean == 3
    assert log.data["created"].iloc[0] == pd.Timestamp("2024-01-13 08:00")
    assert log.data["hours_to_close"].iloc[1] == 48.0
    assert log.data["unit"].tolist() == ["Ordnungsamt", "Tiefbauamt", "Ordnungsamt"]


def test_generic_schema_needs_a_mapping():
    message = one_line_error(DATA / "generic_iso.csv", "generic")
    assert "created" in message and "closed" in message and "category" in message
    message = one_line_error(DATA / "generic_iso.csv", "generic", {"created": "opened_at"})
    assert "missing: closed, category" in message


def test_unknown_schema_and_field():
    assert "'nyc311' or 'generic'" in one_line_error(SAMPLE, "chicago311")
    assert "priority" in one_line_error(SAMPLE, columns={"priority": "Status"})


def test_generic_mapping_to_an_absent_column():
    columns = {**GENERIC_ISO, "unit": "department"}
    message = one_line_error(DATA / "generic_iso.csv", "generic", columns)
    assert "'department'" in message
    assert "'opened_at'" in message  # the columns present are listed


# ----------------------------------------------------------------- bad rows


def test_bad_rows_are_counted_with_reasons():
    log = read_log(DATA / "bad_rows.csv")
    assert log.n_rows == 10
    assert log.n_clean == 4
    assert log.data["row"].tolist() == [1, 2, 9, 10]
    reasons = dict(zip(log.bad_rows["row"], log.bad_rows["reason"], strict=True))
    assert reasons == {
        3: CREATED_UNPARSEABLE,
        4: CREATED_MISSING,
        5: CLOSED_UNPARSEABLE,
        6: CLOSED_BEFORE_CREATED,
        7: CLOSED_AT_CREATED,
        8: CATEGORY_MISSING,
    }
    values = dict(zip(log.bad_rows["row"], log.bad_rows["value"], strict=True))
    assert values[3] == "not a date"
    assert values[5] == "31/31/2011 09:00:00 AM"
    text = log.summary()
    assert "10 rows, 4 usable, 6 bad" in text
    for reason in reasons.values():
        assert f"1 {reason}" in text


def test_blank_channel_becomes_unknown_and_short_durations_survive():
    log = read_log(DATA / "bad_rows.csv")
    row9 = log.data[log.data["row"] == 9].iloc[0]
    assert row9["channel"] == "unknown"
    row10 = log.data[log.data["row"] == 10].iloc[0]
    assert row10["hours_to_close"] == pytest.approx(2 / 3600)  # across midnight, 2 s


# ----------------------------------------------------------------- file-level errors


def test_missing_file():
    message = one_line_error(DATA / "no_such_log.csv")
    assert "no such file" in message


def test_empty_file():
    assert "empty" in one_line_error(DATA / "empty.csv")


def test_header_only_file():
    assert "only a header" in one_line_error(DATA / "header_only.csv")


def test_missing_columns_listed_with_those_present():
    message = one_line_error(DATA / "missing_columns.csv")
    assert "'Closed Date', 'Complaint Type'" in message
    assert "'Unique Key', 'Created Date', 'Agency', 'Open Data Channel Type'" in message
    assert "nyc311" in message


def test_no_date_parses():
    message = one_line_error(DATA / "no_dates.csv")
    assert "column 'Created Date'" in message
    assert "%m/%d/%Y %I:%M:%S %p" in message
    assert "'yesterday'" in message


def test_wrong_date_format_for_closed_column(tmp_path):
    path = tmp_path / "closed_iso.csv"
    path.write_text(
        "Created Date,Closed Date,Complaint Type,Open Data Channel Type,Agency\n"
        "03/01/2011 02:27:57 PM,2011-03-02T10:00:00,Noise,PHONE,NYPD\n",
        "utf-8",
    )
    assert "column 'Closed Date'" in one_line_error(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("Created Date,Closed Date,Complaint Type\n01,02,Lärm\n".encode("latin-1"))
    assert "UTF-8" in one_line_error(path)


def test_ragged_csv(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n1,2,3,4,5\n", "utf-8")
    assert "readable CSV" in one_line_error(
        path, "generic", {"created": "a", "closed": "b", "category": "c"}
    )


def test_log_error_is_a_user_error():
    with pytest.raises(UserError):
        read_log(DATA / "empty.csv")


# ----------------------------------------------------------------- absurd dates (issue #12)

HEADER = "Created Date,Closed Date,Complaint Type,Open Data Channel Type,Agency\n"


def nyc_log(tmp_path: Path, rows: list[tuple[str, str]], name: str = "log.csv") -> Path:
    """An NYC-style log of (created, closed) rows, all "Noise" by phone to the NYPD."""
    path = tmp_path / name
    lines = [f"{created},{closed},Noise,PHONE,NYPD\n" for created, closed in rows]
    path.write_text(HEADER + "".join(lines), "utf-8")
    return path


def test_closed_after_the_export_or_after_five_years_are_bad_rows(tmp_path):
    path = nyc_log(
        tmp_path,
        [
            ("01/01/2011 09:00:00 AM", "01/02/2011 09:00:00 AM"),  # fine
            ("01/01/2011 09:00:00 AM", "12/31/2999 11:59:00 PM"),  # a placeholder date
            ("01/01/2011 09:00:00 AM", "06/01/2016 09:00:00 AM"),  # 5.4 years: too long
            ("06/01/2012 09:00:00 AM", "06/01/2016 09:00:00 AM"),  # 4 years: kept
        ],
    )
    log = read_log(path)
    assert log.data["row"].tolist() == [1, 4]
    reasons = dict(zip(log.bad_rows["row"], log.bad_rows["reason"], strict=True))
    assert reasons == {2: CLOSED_AFTER_EXPORT, 3: CLOSED_TOO_LATE}
    assert CLOSED_TOO_LATE == f"time to close over {MAX_YEARS_TO_CLOSE} years"
    assert log.export == pd.Timestamp("2012-06-01 09:00") + EXPORT_MARGIN
    assert not log.export_given
    assert log.data["hours_to_close"].max() < MAX_HOURS_TO_CLOSE
    text = log.summary()
    assert f"1 {CLOSED_AFTER_EXPORT}" in text and f"1 {CLOSED_TOO_LATE}" in text
    assert "latest created + 5 years" in text


def test_a_given_export_date_checks_created_and_closed_dates(tmp_path):
    path = nyc_log(
        tmp_path,
        [
            ("01/01/2024 09:00:00 AM", "01/02/2024 09:00:00 AM"),
            ("01/01/2024 09:00:00 AM", "08/01/2024 09:00:00 AM"),  # closed after the export
            ("07/02/2024 09:00:00 AM", ""),  # created after the export
            ("01/03/2024 09:00:00 AM", ""),  # still open at the export: kept
        ],
    )
    log = read_log(path, export_date="2024-07-01")
    assert log.export == pd.Timestamp("2024-07-01") and log.export_given
    reasons = dict(zip(log.bad_rows["row"], log.bad_rows["reason"], strict=True))
    assert reasons == {2: CLOSED_AFTER_EXPORT, 3: CREATED_AFTER_EXPORT}
    assert log.n_clean == 2 and log.n_open == 1
    assert "exported 2024-07-01 00:00 (given)" in log.summary()


@pytest.mark.parametrize("given", ["soon", "2024-13-45", ""])
def test_an_export_date_that_is_not_a_date_is_one_line(given):
    with pytest.raises(UserError) as info:
        read_log(SAMPLE, export_date=given)
    assert not isinstance(info.value, LogError)  # an option, not the file
    assert str(info.value).startswith("--export-date: a date such as 2024-07-01")
    assert "\n" not in str(info.value)


def test_a_log_with_no_usable_row_is_one_line(tmp_path):
    path = nyc_log(
        tmp_path,
        [
            ("03/01/2011 09:00:00 AM", "03/14/2999 03:59:20 PM"),
            ("03/01/2011 10:00:00 AM", "03/01/2011 09:00:00 AM"),
        ],
    )
    message = one_line_error(path)
    assert "at least one usable request" in message
    assert f"all 2 rows are bad: 1 {CLOSED_AFTER_EXPORT}, 1 {CLOSED_BEFORE_CREATED}" in message


@pytest.mark.parametrize(
    ("date_format", "why"),
    [
        ("%Q", "%Q is not a directive"),
        ("%Y-%m-%d %", "a lone % at the end"),
        ("%Y %Y", "%Y appears twice"),
        ("%c %Y", "%Y appears twice"),
        ("%U", "%U and %W need a year"),
        ("%Y-%W", "%U and %W need a year"),
        ("%G-%V", "%G and %V go together"),
        ("%Y-%V-%u", "%G and %V go together"),
        ("%G-%V-%u %j", "cannot be combined"),
        ("%-d.%m.%Y", "%- is not a directive"),
    ],
)
def test_a_date_format_pandas_rejects_is_one_line(tmp_path, date_format, why):
    path = nyc_log(tmp_path, [("03/01/2011 09:00:00 AM", "")])
    message = one_line_error(path, date_format=date_format)
    assert f"date_format {date_format!r}" in message and why in message


def test_utc_offsets_are_dropped_so_times_stay_local(tmp_path):
    path = tmp_path / "offsets.csv"
    path.write_text(
        "opened,closed,topic\n"
        "2024-01-01T08:00:00+08:00,2024-01-01T10:00:00+08:00,Road\n"
        "2024-01-01 09:30:00Z,2024-01-02 09:30 +0100,Road\n"
        "2024-01-01T10:00:00.5-05:00,,Road\n",
        "utf-8",
    )
    columns = {"created": "opened", "closed": "closed", "category": "topic"}
    log = read_log(path, "generic", columns)
    assert log.data["created"].tolist() == [
        pd.Timestamp("2024-01-01 08:00"),
        pd.Timestamp("2024-01-01 09:30"),
        pd.Timestamp("2024-01-01 10:00:00.5"),
    ]
    assert log.data["hours_to_close"].tolist()[:2] == [2.0, 24.0]
    with_z = read_log(path, "generic", columns, date_format="%Y-%m-%dT%H:%M:%S%z")
    assert with_z.data["created"].iloc[0] == pd.Timestamp("2024-01-01 08:00")


_DATE_TEXT = st.sampled_from(
    ["03/01/2011 09:00:00 AM", "2011-03-01", "2011-03-01T09:00:00+08:00", "12/31/2999 11:59:00 PM",
     "", "soon", "01/01/1900 12:00:00 AM", "9999-12-31", "0001-01-01", "2011-03-01 25:00",
     "2011-W09-2", "1e9", "nan", "NaT", "-1"]
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(_DATE_TEXT, _DATE_TEXT), min_size=1, max_size=4),
    date_format=st.one_of(
        st.none(), st.text(alphabet="%YmdHMSIpjUWGVuaAwzZcxX%Q -:/.T", max_size=8)
    ),
)
def test_any_dates_and_format_load_or_give_one_line(tmp_path, rows, date_format):
    """Property: whatever the dates and the format, read_log loads or raises one clean line."""
    path = nyc_log(tmp_path, rows, name="fuzz.csv")
    try:
        log = read_log(path, date_format=date_format)
    except LogError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    assert log.n_clean + log.n_bad == log.n_rows == len(rows)
    assert (log.data["hours_to_close"].dropna() > 0).all()
    assert (log.data["hours_to_close"].dropna() <= MAX_HOURS_TO_CLOSE).all()


@pytest.mark.parametrize("date_format", ["%%V", "%%U", "%%G"])
def test_formats_only_pandas_refuses_give_one_line(tmp_path, date_format):
    """'%%V' is a literal '%' then 'V' to a directive scanner, but pandas reads %V: one line."""
    path = nyc_log(tmp_path, [("03/01/2011 09:00:00 AM", "03/01/2011 09:00:00 AM")])
    with pytest.raises(LogError, match=r"date_format '%%[VUG]'") as caught:
        read_log(path, date_format=date_format)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
