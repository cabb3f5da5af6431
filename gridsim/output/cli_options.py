"""Options that several ``gridsim`` commands share: ``--max-memory GB``, the executor.

Kept apart from :mod:`gridsim.cli` so that the command-line module stays small.
"""

from __future__ import annotations

import argparse
import math
import os

from gridsim.experiment.executors import (
    EXECUTORS,
    Executor,
    ExecutorOptionError,
    make_executor,
)
from gridsim.model.guard import DEFAULT_MAX_MEMORY_GB, MEMORY_ENV

__all__ = ["add_executor_options", "add_memory_option", "executor_from_args"]


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


def add_executor_options(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--executor``, ``--address`` and ``--workers`` (where ``what`` are computed).

    Example:
        >>> p = argparse.ArgumentParser()
        >>> add_executor_options(p, "runs")
        >>> executor_from_args(p.parse_args(["--executor", "serial"])).name
        'serial'
    """
    parser.add_argument("--executor", choices=EXECUTORS, default=None,
                        help=f"where {what} are computed (default: processes, or dask with "
                        "--address)")  # fmt: skip
    parser.add_argument("--address", help="Dask scheduler address, e.g. tcp://HOST:8786")
    parser.add_argument("--workers", type=int, help="worker processes (default: CPU count)")


def executor_from_args(args: argparse.Namespace) -> Executor:
    """The executor the options ask for (Dask when only ``--address`` is given).

    Raises:
        ExecutorOptionError: a bad combination, naming the option as it was typed.
    """
    kind = args.executor or ("dask" if args.address else "processes")
    try:
        return make_executor(kind, args.workers, args.address)
    except ExecutorOptionError as exc:  # name the option as it was typed (--workers)
        raise ExecutorOptionError("", f"--{exc.field}", exc.expected) from None
