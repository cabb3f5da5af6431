"""Which figures of a run to draw: ``--figures none|core|all`` or a list of names.

A county-year's tables are drawn in a second or so per figure and language, so a run draws
only the figures people look at first (:data:`CORE_FIGURES`) unless asked for more;
``gridsim plot RUN --figures all`` draws the rest later from the saved run directory. This
module is light (no matplotlib): the command line parses ``--figures`` with it.

Example:
    >>> parse_figures("core")
    ('escalation_flow', 'resolved_where', 'response_ecdf', 'backlog')
    >>> parse_figures("backlog, ranking")
    ('backlog', 'ranking')
    >>> parse_figures("none")
    ()
"""

from __future__ import annotations

from collections.abc import Sequence

from gridsim.errors import UserError

__all__ = [
    "CORE_FIGURES",
    "FIGURE_SETS",
    "FIGURE_TABLES",
    "RUN_DEFAULT",
    "RUN_FIGURES",
    "parse_figures",
]

#: Every figure of a single run, in the order they are drawn and listed.
RUN_FIGURES: tuple[str, ...] = (
    "hierarchy",
    "escalation_flow",
    "backlog",
    "response_ecdf",
    "resolved_where",
    "noticing",
    "utilisation",
    "ranking",
    "warmup",
)

#: The figures people look at first: how appeals flow up the levels (the Sankey-like
#: overview), where orders are resolved against the targets (小事不出网格, 大事不出镇街),
#: how long residents wait (response and resolution times), and the backlog over the year.
CORE_FIGURES: tuple[str, ...] = ("escalation_flow", "resolved_where", "response_ecdf", "backlog")

#: What ``gridsim run`` draws unless ``--figures`` says otherwise; ``gridsim plot`` draws
#: ``all`` unless told otherwise.
RUN_DEFAULT = "core"

#: The named selections; anything else is a comma-separated list of figure names.
FIGURE_SETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "core": CORE_FIGURES,
    "all": RUN_FIGURES,
}

#: The run tables each figure reads (a figure worker loads only these, once).
FIGURE_TABLES: dict[str, tuple[str, ...]] = {
    "hierarchy": ("units", "orders"),
    "escalation_flow": ("orders",),
    "backlog": ("backlog",),
    "response_ecdf": ("orders",),
    "resolved_where": ("orders",),
    "noticing": ("issues",),
    "utilisation": ("staff", "units"),
    "ranking": ("staff", "units"),
    "warmup": ("backlog",),
}

#: Rough drawing cost of each figure (seconds, county-year, one language): figure workers
#: start the dearest first, so that the last one to finish is a cheap one.
FIGURE_COST: dict[str, float] = {
    "utilisation": 1.4,
    "response_ecdf": 1.0,
    "hierarchy": 0.9,
    "escalation_flow": 0.9,
    "noticing": 0.8,
    "resolved_where": 0.6,
    "warmup": 0.5,
    "ranking": 0.5,
    "backlog": 0.4,
}


def parse_figures(text: str | Sequence[str], option: str = "--figures") -> tuple[str, ...]:
    """The figure names a selection means, in :data:`RUN_FIGURES` order.

    Args:
        text: ``"none"``, ``"core"``, ``"all"``, or figure names separated by commas
            (a sequence of names is accepted too).
        option: the option named in the error.

    Raises:
        UserError: an unknown name (one line, listing the valid ones).

    Example:
        >>> parse_figures("all") == RUN_FIGURES
        True
        >>> parse_figures("sankey")
        Traceback (most recent call last):
        ...
        gridsim.errors.UserError: --figures: expected none, core, all or figure names \
separated by commas (hierarchy, escalation_flow, backlog, response_ecdf, resolved_where, \
noticing, utilisation, ranking, warmup), got 'sankey'
    """
    if isinstance(text, str):
        key = text.strip().lower()
        if key in FIGURE_SETS:
            return FIGURE_SETS[key]
        names = [n.strip() for n in key.split(",") if n.strip()]
    else:
        names = [str(n) for n in text]
    unknown = [n for n in names if n not in RUN_FIGURES]
    if unknown or not names:
        raise UserError(
            "", option, "expected none, core, all or figure names separated by commas "
            f"({', '.join(RUN_FIGURES)}), got {text if isinstance(text, str) else names!r}",
        )  # fmt: skip
    return tuple(n for n in RUN_FIGURES if n in names)
