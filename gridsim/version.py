"""What a result records about the code that made it: the gridsim version and the lock hash.

One definition, importable from anywhere without cycles (nothing of gridsim is imported).

``__version__`` is the version of the code being run. From a source checkout (an editable
install, or ``PYTHONPATH`` pointing at a clone) it is ``pyproject.toml``'s: the installed
metadata of an editable install is written once, at install time, and goes stale when the
version is bumped without reinstalling. Elsewhere (an installed wheel) it is the installed
metadata's; ``0.0.0+unknown`` when there is neither.

:func:`lock_hash` identifies the pinned environment: a hash of ``requirements.lock`` (the
versions and file hashes that ``python3 dev.py setup`` installs), or ``None`` where gridsim
does not run from a checkout holding one.

Example:
    >>> sorted(provenance())
    ['gridsim_version', 'lock_hash']
"""

from __future__ import annotations

import hashlib
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: The directory above the package: a source checkout when it holds gridsim's pyproject.toml.
CHECKOUT = Path(__file__).resolve().parent.parent
#: The lockfile's name, at the top of a checkout (written by ``python3 dev.py lock``).
LOCK_NAME = "requirements.lock"


def source_version(checkout: Path = CHECKOUT) -> str | None:
    """The version in ``checkout/pyproject.toml`` if that is gridsim's, else ``None``.

    Example:
        >>> import tempfile
        >>> source_version(Path(tempfile.mkdtemp())) is None
        True
    """
    try:
        data = tomllib.loads((checkout / "pyproject.toml").read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    project = data.get("project")
    if not isinstance(project, dict) or project.get("name") != "gridsim":
        return None
    found = project.get("version")
    return found if isinstance(found, str) else None


def installed_version() -> str:
    """The installed distribution's version (``0.0.0+unknown`` if gridsim is not installed)."""
    try:
        return version("gridsim")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


__version__ = source_version() or installed_version()


def lock_hash(path: str | Path | None = None) -> str | None:
    r"""First 16 hex digits of the SHA-256 of a lockfile's pins (``None`` if there is none).

    Only the requirement lines count (each ``name==version`` and its ``--hash`` options, in
    order); comments, annotations and blank lines do not, so regenerating the lock with the
    same pins keeps the hash.

    Args:
        path: the lockfile (default: ``requirements.lock`` at the top of the checkout).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "a.lock").write_text("# header\nsimpy==4.1.1 \\\n    --hash=sha256:ab\n")
        >>> _ = (d / "b.lock").write_text("simpy==4.1.1 \\\n  --hash=sha256:ab\n  # via x\n")
        >>> lock_hash(d / "a.lock") == lock_hash(d / "b.lock"), len(lock_hash(d / "a.lock"))
        (True, 16)
        >>> lock_hash(d / "missing.lock") is None
        True
    """
    target = Path(path) if path is not None else CHECKOUT / LOCK_NAME
    try:
        text = target.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    pins = []
    for line in text.splitlines():
        item = line.strip().removesuffix("\\").strip()
        if item and not item.startswith("#"):
            pins.append(item)
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()[:16]


def provenance() -> dict[str, str | None]:
    """``gridsim_version`` and ``lock_hash``: recorded in ``run.json`` and a sweep's manifest."""
    return {"gridsim_version": __version__, "lock_hash": lock_hash()}
