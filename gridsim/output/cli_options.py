"""Options that several ``gridsim`` commands share: ``--max-memory GB``.

Kept apart from :mod:`gridsim.cli` so that the command-line module stays small.
"""

from __future__ import annotations

import argparse
import math
import os

from gridsim.model.guard import DEFAULT_MAX_MEMORY_GB, MEMORY_ENV

__all__ = ["add_memory_option"]


class _SetMemoryBound(argparse.Action):
    """``--max-memory GB``: sets :data:`MEMORY_ENV`, so the sweep's worker processes see it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:  # fmt: skip
        text = str(values)
        try:
            gb = float(text)
        except ValueError:
            gb = math.nan  # refused just below, like inf and negatives
        if not (math.isfinite(gb) and gb > 0):
            raise argparse.ArgumentError(self, f"expected a positive number of GB, got {text!r}")
        os.environ[MEMORY_ENV] = repr(gb)
        setattr(namespace, self.dest, gb)


def add_memory_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-memory GB`` (the guard's bound) to a command that simulates.

    Example:
        >>> p = argparse.ArgumentParser()
        >>> add_memory_option(p)
        >>> p.parse_args(["--max-memory", "12"]).max_memory, os.environ[MEMORY_ENV]
        (12.0, '12.0')
        >>> del os.environ[MEMORY_ENV]
    """
    parser.add_argument(
        "--max-memory",
        metavar="GB",
        action=_SetMemoryBound,
        default=None,
        help=f"refuse runs estimated above this much memory (default {DEFAULT_MAX_MEMORY_GB:g} "
        f"GB, or ${MEMORY_ENV}; never more than the machine has free)",
    )
