"""gridsim's errors: one family, so the command line catches a user's mistake in one place.

``GridsimError`` is the root. A :class:`UserError` is a mistake in what the user gave
(a file, a field, an option) and prints as one line naming the file, the field and what was
expected; the command line prints it and exits with status 2. An :class:`InternalError` is
a bug in gridsim and keeps its traceback.

Example:
    >>> str(UserError("run.toml", "meta.seed", "an integer"))
    'run.toml: meta.seed: an integer'
    >>> print(UserError("", "--days", "a positive number, got 'x'"))
    --days: a positive number, got 'x'
"""

from __future__ import annotations

from os import PathLike


class GridsimError(Exception):
    """Root of every error gridsim raises on purpose."""


def _one_line(text: str) -> str:
    """Escape control characters so a message stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class UserError(GridsimError):
    """A mistake in what the user asked for; printed as one line, exit status 2.

    Attributes:
        file: the file at fault, or ``""`` when the mistake is in an option.
        field: dotted location of the offending field or option (``""`` for the whole file).
        expected: what was expected there, in words.
    """

    def __init__(self, file: str | PathLike[str], field: str, expected: str):
        self.file, self.field, self.expected = str(file), str(field), str(expected)
        parts = [p for p in (self.file, self.field) if p]
        super().__init__(_one_line(": ".join([*parts, self.expected])))

    def __reduce__(self) -> tuple[object, ...]:
        # A sweep's worker process hands its error back pickled. The default would call
        # __init__ with the message alone, which fails for every subclass's signature and
        # turns a one-line refusal into BrokenProcessPool; rebuild from the state instead.
        return (_restore, (type(self), str(self), self.__dict__))

    @property
    def path(self) -> str:
        """The file at fault (the name earlier releases used)."""
        return self.file


def _restore(cls: type[UserError], message: str, state: dict[str, object]) -> UserError:
    """Rebuild a pickled :class:`UserError` (any subclass) without calling its __init__."""
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class InternalError(GridsimError):
    """A bug in gridsim (an invariant broke); never the user's fault."""
