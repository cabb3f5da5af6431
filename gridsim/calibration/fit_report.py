"""The fit report of a calibration: a table, a Markdown page and three figures.

:func:`fit_table` has one row per category (counts, rate, unit, the AIC-best family and how
it matches the log's median and p90, what the scenario uses). :func:`write_fit_report` writes
it as CSV and Markdown with the log's time-to-close CDFs against the fitted families, the
arrival profiles, and the channel and category mixes.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from gridsim.calibration.calibrate import OTHER, Calibration, summary_lines
from gridsim.calibration.fitting import (
    FAMILIES,
    PIN_BAND,
    PIN_WIDTH,
    TABLE_KNOTS,
    TARGETS,
    TIME_TOLERANCE,
    percent,
)
from gridsim.errors import UserError
from gridsim.files import atomic_write_text, foreign_directory, write_csv, write_marker
from gridsim.model.calendar import HOURS_PER_YEAR

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def fit_table(calibration: Calibration) -> pd.DataFrame:
    """One row per category: counts, rate, unit, AIC-best family and its check, what is used.

    Columns ``fit_median_h``/``fit_p90_h`` and their errors are the AIC-best family's;
    ``used`` is what the scenario samples (the family or ``empirical``) and ``verdict``
    says why.

    Example:
        >>> from gridsim.calibration.calibrate import calibrate
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> table = fit_table(calibrate(read_log(sample_path())))
        >>> list(table.columns[:4])
        ['key', 'label', 'requests', 'closed']
    """
    rows = []
    for cat in calibration.categories:
        fit = cat.fit
        row = {
            "key": cat.key,
            "label": cat.label,
            "requests": cat.n_rows,
            "closed": cat.n_closed,
            "per_year": cat.rate_per_hour * HOURS_PER_YEAR,
            "unit": cat.unit,
            "family": fit.family,
            "params": ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items()),
            **{f"aic_{f}": fit.aic[f] for f in FAMILIES},
        }
        errors = fit.family_errors()
        for q, name in TARGETS:
            row[f"log_{name}_h"] = fit.log_quantile(q)
            row[f"fit_{name}_h"] = fit.family_quantile(q)
            row[f"fit_{name}_error"] = errors[name]
        row.update(used=fit.used, mean_h=fit.mean(), verdict=fit.verdict)
        rows.append(row)
    return pd.DataFrame(rows)


def check_report_dir(out: Path) -> None:
    """Refuse a fit report directory that is a file or holds files gridsim did not write.

    Raises:
        UserError: ``out`` is a file, or a non-empty directory without gridsim's marker
            (nor a ``fit_report.md`` of gridsim 0.1).
    """
    reason = foreign_directory(out, "fit-report")
    if reason is not None:
        raise UserError(out, "", reason)


def write_fit_report(calibration: Calibration, out_dir: str | Path) -> Path:
    """Write a Markdown fit report with figures (PNG) into ``out_dir``.

    Files: ``fit_report.md``, ``fit_table.csv``, ``time_to_close_cdf.png`` (the log's CDF
    vs the fitted families and any quantile table, per category, log-x),
    ``arrival_profiles.png`` (daily and weekly profiles) and ``mix.png`` (channel and
    category mix).

    Args:
        calibration: from :func:`gridsim.calibration.calibrate.calibrate`.
        out_dir: directory to create, or one gridsim wrote (its files are replaced; a
            user's other files stay). A folder of the user's is refused.

    Returns:
        The path of ``fit_report.md``.

    Example:
        >>> import tempfile
        >>> from gridsim.calibration.calibrate import calibrate
        >>> from gridsim.calibration.logs import read_log, sample_path
        >>> report = write_fit_report(calibrate(read_log(sample_path())), tempfile.mkdtemp())
        >>> report.name
        'fit_report.md'
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    out = Path(out_dir)
    check_report_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "fit-report")
    table = fit_table(calibration)
    write_csv(table, out / "fit_table.csv")
    _plot_cdfs(calibration, out / "time_to_close_cdf.png")
    _plot_profiles(calibration, out / "arrival_profiles.png")
    _plot_mix(calibration, out / "mix.png")
    # A log's labels are the user's text: raw HTML in them is shown, never rendered.
    text = html.escape(_report_markdown(calibration, table), quote=False)
    return atomic_write_text(out / "fit_report.md", text)


def _report_markdown(cal: Calibration, table: pd.DataFrame) -> str:
    """The text of ``fit_report.md``: the facts, the fit table, the figures and the notes."""
    lines = [
        f"# Calibration fit report: {Path(cal.source).name}",
        "",
        *[f"- {line}" for line in summary_lines(cal)],
        "",
        "## Time to close",
        "",
        "Lognormal, gamma and Weibull are fitted by maximum likelihood (location 0) to each "
        "category's closed requests, and the family with the lowest AIC (bold) is checked "
        "against the log's own median and p90 (linear interpolation between order "
        f"statistics); `error` is family / log - 1. With fit={cal.fit_mode}, "
        + {
            "auto": "the scenario uses the family where both errors are within "
            f"{percent(cal.family_tolerance)}, and an empirical quantile table of the log's "
            "durations elsewhere.",
            "parametric": "the scenario uses the family everywhere, so a category whose "
            f"error exceeds {TIME_TOLERANCE:.0%} cannot pass the round-trip check.",
            "empirical": "the scenario uses an empirical quantile table everywhere.",
        }[cal.fit_mode],
        "",
        "| key | requests | closed | per year | unit | family | parameters | AIC lognormal "
        "| AIC gamma | AIC Weibull | log median h | family median h (error) | log p90 h "
        "| family p90 h (error) | used |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        aics = [row.aic_lognormal, row.aic_gamma, row.aic_weibull]
        shown = [f"**{a:.1f}**" if a == min(aics) else f"{a:.1f}" for a in aics]
        lines.append(
            f"| `{row.key}` | {row.requests} | {row.closed} | {row.per_year:.1f} | {row.unit} "
            f"| {row.family} | {row.params} | {' | '.join(shown)} "
            f"| {row.log_median_h:.1f} | {row.fit_median_h:.1f} "
            f"({percent(row.fit_median_error, signed=True)}) "
            f"| {row.log_p90_h:.1f} | {row.fit_p90_h:.1f} "
            f"({percent(row.fit_p90_error, signed=True)}) "
            f"| {row.used} |"
        )
    lines += ["", "Per category:", ""]
    lines += [f"- `{row.key}`: {row.verdict}" for row in table.itertuples()]
    if (table["used"] == "empirical").any():
        lines += [
            "",
            f"A quantile table has {TABLE_KNOTS} knots, the log's durations at probabilities "
            "0, 1 %, ..., 100 %: the shortest and the longest duration, and the median and "
            "p90 exactly. Where the table is steep around the median or p90 (a gap between "
            "groups of closures, or a long tail), a simulated quantile would move far with a "
            f"little sampling noise, so the knots within {PIN_WIDTH * 100:.0f} points of "
            f"probability either side are held within {percent(PIN_BAND)} of it ('pinned'); the "
            "verdict says where, and how much that moved the mean.",
        ]
    lines += [
        "",
        "![time to close](time_to_close_cdf.png)",
        "",
        "## Arrivals",
        "",
        "Created times by hour of day and day of week, divided by the hours of each kind in "
        "the span and normalised to mean 1 (all categories pooled).",
        "",
        "![profiles](arrival_profiles.png)",
        "",
        "## Channel and category mix",
        "",
        "| channel | log name | share |",
        "|---|---|---|",
        *[f"| `{k}` | {cal.channel_labels[k]} | {s:.1%} |" for k, s in cal.channels.items()],
        "",
        "![mix](mix.png)",
        "",
    ]
    if cal.pooled:
        lines += [f"## Pooled into `{OTHER}`", "", ", ".join(cal.pooled), ""]
    lines += ["## Notes", "", *[f"- {note}" for note in cal.notes], ""]
    return "\n".join(lines)


_FAMILY_COLOURS = {"lognormal": "tab:blue", "gamma": "tab:orange", "weibull": "tab:green"}


def _plot_cdfs(cal: Calibration, path: Path) -> None:
    """Per category, the log's time-to-close CDF vs the fitted families and any table."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n = len(cal.categories)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.6 * ncols, 2.7 * nrows + 0.6), squeeze=False, sharey=True
    )
    for ax, cat in zip(axes.flat, cal.categories, strict=False):
        fit = cat.fit
        hours = np.sort(fit.hours)
        grid = np.geomspace(hours[0] / 2, hours[-1] * 2, 200)
        ax.step(hours, np.arange(1, len(hours) + 1) / len(hours), where="post", color="black")
        for family in fit.candidates:
            best = family == fit.family
            # A Weibull's (x / scale) ** shape overflows far in its tail, where the CDF is 1.
            with np.errstate(over="ignore"):
                cdf = fit.frozen(family).cdf(grid)
            ax.plot(
                grid,
                cdf,
                color=_FAMILY_COLOURS[family],
                lw=1.8 if best else 0.9,
                ls="-" if best else ":",
            )
        if fit.knots is not None:
            ax.plot(fit.knots, np.linspace(0, 1, len(fit.knots)), color="tab:red", lw=1.4, ls="--")
        ax.set_xscale("log")
        title = cat.label if len(cat.label) <= 32 else cat.label[:31] + "..."
        used = f"{fit.family} -> empirical" if fit.knots is not None else fit.family
        ax.set_title(f"{title}\nn={fit.n}, {used}", fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("share closed", fontsize=9)
    for col in range(ncols):  # the lowest panel of each column
        axes[(n - 1 - col) // ncols, col].set_xlabel("hours to close (log scale)", fontsize=9)
    handles = [Line2D([], [], color="black", drawstyle="steps-post", label="log")]
    handles += [Line2D([], [], color=c, lw=1.5, label=f) for f, c in _FAMILY_COLOURS.items()]
    handles.append(Line2D([], [], color="tab:red", ls="--", lw=1.4, label="quantile table"))
    fig.legend(
        handles=handles,
        loc="upper center",
        ncols=5,
        fontsize=9,
        frameon=False,
        bbox_to_anchor=(0.5, 1 - 0.4 / fig.get_figheight()),
    )
    fig.suptitle(
        "Time to close: the log's CDF vs the fitted families (solid: lowest AIC) "
        "and, where used, the quantile table",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / fig.get_figheight()))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_profiles(cal: Calibration, path: Path) -> None:
    """The daily and weekly arrival profiles, as bars around the mean of 1."""
    import matplotlib.pyplot as plt

    fig, (ax_d, ax_w) = plt.subplots(1, 2, figsize=(11, 3.5), width_ratios=[3, 1.3])
    ax_d.bar(range(24), cal.daily_profile, color="tab:blue")
    ax_d.set_xticks(range(0, 24, 2))
    ax_d.set_xlabel("hour of day (created)")
    ax_d.set_ylabel("relative rate (mean 1)")
    ax_d.set_title("Daily profile")
    ax_w.bar(WEEKDAYS, cal.weekly_profile, color="tab:orange")
    ax_w.set_xlabel("day of week (created)")
    flat = any(note.startswith("Weekly profile left flat") for note in cal.notes)
    ax_w.set_title("Weekly profile" + (" (left flat: too few weeks)" if flat else ""))
    for ax in (ax_d, ax_w):
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_mix(cal: Calibration, path: Path) -> None:
    """The channel and category shares of the log, largest at the top."""
    import matplotlib.pyplot as plt

    mix = cal.category_mix
    height = max(3.0, 0.28 * len(mix) + 1)
    fig, (ax_c, ax_k) = plt.subplots(1, 2, figsize=(12, height), width_ratios=[1, 1.6])
    for ax, shares, colour, title in (
        (ax_c, cal.channels, "tab:green", "Channel mix"),
        (ax_k, mix, "tab:purple", "Category mix"),
    ):
        keys = list(shares)[::-1]  # largest at the top
        ax.barh(keys, [shares[k] * 100 for k in keys], color=colour)
        ax.set_xlabel("share of requests (%)")
        ax.set_title(title)
    ax_k.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
