"""Writing files so that nothing is ever half-written: a temporary name, then a rename.

Every file gridsim writes goes through :func:`atomic_write` (or, for a whole directory,
through :func:`temporary_directory` and :func:`publish_directory`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def temporary_directory(final: Path) -> Path:
    """A fresh hidden directory beside ``final`` to build it in before publishing."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))


def publish_directory(tmp: Path, final: Path) -> None:
    """Move a fully written temporary directory into place (replacing an older run)."""
    if final.exists():
        backup = final.with_name(f".{final.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(final, backup)
        os.replace(tmp, final)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, final)


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write a file through a temporary name and a rename, so it is never half-written.

    Args:
        path: the file to (re)place.
        write: writes the content to the temporary path it is given.

    Example:
        >>> import tempfile
        >>> out = atomic_write(Path(tempfile.mkdtemp()) / "a.txt", lambda t: t.write_text("hi"))
        >>> out.read_text()
        'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, "utf-8"))


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=float))
