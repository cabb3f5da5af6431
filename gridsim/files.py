"""Writing files: never half-written, never the user's, never a formula in a spreadsheet.

Every file gridsim writes goes through :func:`atomic_write` (or, for a whole directory,
through :func:`temporary_directory` and :func:`publish_directory`). A directory gridsim
writes carries a :data:`MARKER`, a single file its :data:`SIGNATURE`; :func:`foreign_directory`
and :func:`foreign_file` say why a path is not gridsim's to write. Every CSV goes through
:func:`write_csv`, which escapes cells a spreadsheet would run as formulas.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import re
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def temporary_directory(final: Path) -> Path:
    """A fresh hidden directory beside ``final`` to build it in before publishing."""
    _make_parents(final)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))


def publish_directory(tmp: Path, final: Path, owned: Callable[[str], bool] | None = None) -> None:
    """Move a fully written temporary directory into place (replacing an older one).

    Args:
        tmp: the fully written directory.
        final: where it goes.
        owned: says, for a path relative to ``final`` (``"figures/x_en.png"``), whether
            gridsim wrote it. Everything else in an older ``final`` (the user's notes,
            sub-folders, figures) is carried over into the new directory, so a rerun
            replaces only gridsim's own files. None: nothing is carried over.
    """
    if final.exists():
        if owned is not None:
            _carry_over(final, tmp, owned, "")
        backup = final.with_name(f".{final.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(final, backup)
        os.replace(tmp, final)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _carry_over(old: Path, new: Path, owned: Callable[[str], bool], prefix: str) -> None:
    """Move what gridsim did not write from ``old`` into ``new`` (renames, nothing copied)."""
    for entry in sorted(old.iterdir()):
        rel = prefix + entry.name
        target = new / entry.name
        if entry.is_dir() and not entry.is_symlink() and owned(rel):
            _carry_over(entry, target, owned, rel + "/")  # gridsim's folder, maybe user files
        elif not owned(rel) and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(entry, target)


def remove_owned(directory: Path, owned: Callable[[str], bool], prefix: str = "") -> None:
    """Delete what gridsim wrote in ``directory`` (by :func:`owned_by_patterns`), nothing else.

    An owned folder is emptied of gridsim's files and removed only if nothing is left in it.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); (d / "figures").mkdir()
        >>> for name in ("summary.csv", "notes.txt", "figures/a_en.png", "figures/mine.png"):
        ...     _ = (d / name).write_text("x")
        >>> remove_owned(d, owned_by_patterns(("summary.csv", "figures", "figures/*_en.png")))
        >>> sorted(p.relative_to(d).as_posix() for p in d.rglob("*"))
        ['figures', 'figures/mine.png', 'notes.txt']
    """
    for entry in sorted(directory.iterdir()):
        rel = prefix + entry.name
        if not owned(rel):
            continue
        if entry.is_dir() and not entry.is_symlink():
            remove_owned(entry, owned, rel + "/")
            if not any(entry.iterdir()):
                entry.rmdir()
        else:
            entry.unlink()


def owned_by_patterns(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """A test of "gridsim wrote this" from shell patterns on relative paths.

    Example:
        >>> owned = owned_by_patterns(("run.json", "figures", "figures/*_en.png"))
        >>> owned("figures/backlog_en.png"), owned("figures/mine.png"), owned("notes.txt")
        (True, False, False)
    """
    return lambda rel: any(fnmatch.fnmatchcase(rel, p) for p in patterns)


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
    _make_parents(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename == str(tmp):  # name the file the user asked for, not our temporary
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _make_parents(path: Path) -> None:
    """Create ``path``'s folders; a file in the way is "not a directory" (not "file exists")."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "is a file, not a folder", str(parent))
    path.parent.mkdir(parents=True, exist_ok=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, "utf-8"))


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=float))


# ------------------------------------------------------------------ what gridsim owns
#
# gridsim never touches what it did not write. A directory gridsim writes (a run, an
# experiment's results, a fit report, a figures folder) carries a marker file; a single file
# it writes carries a signature in its text (or, for a PNG, in a text chunk). Everything
# else is the user's. These helpers only *answer*; the caller raises the UserError (this
# module imports nothing of gridsim, so that every room may use it).

#: The marker file of a directory gridsim wrote: JSON with the kind of directory.
MARKER = ".gridsim"
#: The text that marks a single file as gridsim's (TOML comment, Markdown, HTML, JSON, PNG).
SIGNATURE = "generated by gridsim"
#: Files that mark a directory written by gridsim 0.1 (before the marker), by kind.
LEGACY_MARKS: dict[str, tuple[str, ...]] = {
    "run": ("run.json",),
    "experiment": ("manifest.json",),
    "fit-report": ("fit_report.md",),
    "figures": (),
}
#: How many bytes of a file's head and tail are searched for the signature.
_SIGNATURE_WINDOW = 65536


def write_marker(directory: str | Path, kind: str) -> Path:
    """Mark ``directory`` as one gridsim wrote (its kind: run, experiment, fit-report, figures).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = write_marker(d, "run")
        >>> directory_kind(d)
        'run'
    """
    text = json.dumps({"generator": "gridsim", "kind": kind}) + "\n"
    return atomic_write_text(Path(directory) / MARKER, text)


def directory_kind(directory: str | Path) -> str | None:
    """The kind of gridsim directory ``directory`` is, or None if gridsim did not write it.

    A directory written by gridsim 0.1 has no marker; its ``run.json`` or ``manifest.json``
    still makes it gridsim's.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> directory_kind(d) is None
        True
        >>> _ = (d / "manifest.json").write_text("{}")
        >>> directory_kind(d)
        'experiment'
    """
    directory = Path(directory)
    marker = directory / MARKER
    if marker.is_file():
        try:
            data = json.loads(marker.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # a damaged marker vouches for nothing
        kind = data.get("kind") if isinstance(data, dict) else None
        return kind if isinstance(kind, str) and data.get("generator") == "gridsim" else None
    for kind, names in LEGACY_MARKS.items():
        if any((directory / name).is_file() for name in names):
            return kind
    return None


def foreign_directory(directory: str | Path, kind: str) -> str | None:
    """Why gridsim may not write a ``kind`` directory at ``directory`` (None: it may).

    It may when the path does not exist, is an empty directory, or is a directory gridsim
    wrote of the same kind.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> foreign_directory(d, "run") is None
        True
        >>> _ = (d / "notes.txt").write_text("mine")
        >>> print(foreign_directory(d, "run")[:73])
        not a gridsim run directory (it holds other files and no .gridsim marker)
    """
    directory = Path(directory)
    if not directory.exists():
        return None
    if not directory.is_dir():
        return f"exists and is a file (expected a {kind} directory)"
    found = directory_kind(directory)
    if found == kind or (found is None and not any(directory.iterdir())):
        return None
    what = (
        "it holds other files and no .gridsim marker"
        if found is None
        else f"it is a gridsim {found} directory"
    )
    return (
        f"not a gridsim {kind} directory ({what}); gridsim writes only into a new or empty "
        "directory or one it wrote: choose another path"
    )


def is_signed(path: str | Path) -> bool:
    """Whether a file carries gridsim's signature (in its first or last 64 KB).

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "a.md"
        >>> _ = f.write_text("# mine")
        >>> is_signed(f)
        False
    """
    path = Path(path)
    mark = SIGNATURE.encode("ascii")
    with path.open("rb") as fh:
        head = fh.read(_SIGNATURE_WINDOW)
        if mark in head:
            return True
        fh.seek(max(fh.tell(), path.stat().st_size - _SIGNATURE_WINDOW))
        return mark in fh.read()


def foreign_file(path: str | Path) -> str | None:
    """Why gridsim may not (re)write the single file ``path`` (None: it may).

    It may when the file does not exist or carries gridsim's signature.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> foreign_file(d / "new.toml") is None
        True
        >>> print(foreign_file(d))
        a file (this is a directory)
    """
    path = Path(path)
    if path.is_dir():
        return "a file (this is a directory)"
    if not path.exists() or is_signed(path):
        return None
    return (
        f"a new file or one gridsim wrote (this one has no '{SIGNATURE}' mark, so it is not "
        "gridsim's to replace); choose another path or remove it first"
    )


def signed_png(data: bytes) -> bytes:
    """A PNG's bytes with gridsim's signature added as a ``tEXt`` chunk after the header.

    Example:
        >>> import io, matplotlib.figure
        >>> buf = io.BytesIO(); matplotlib.figure.Figure((1, 1)).savefig(buf, format="png")
        >>> SIGNATURE.encode() in signed_png(buf.getvalue())
        True
    """
    header_end = 8 + 4 + 4 + 13 + 4  # PNG magic, then the IHDR chunk (length, type, data, CRC)
    body = b"Comment\0" + SIGNATURE.encode("latin-1")
    chunk = (
        struct.pack(">I", len(body))
        + b"tEXt"
        + body
        + struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    )
    return data[:header_end] + chunk + data[header_end:]


def sign_png(path: str | Path) -> Path:
    """Add gridsim's signature to a PNG file gridsim has just written (atomically)."""
    data = signed_png(Path(path).read_bytes())
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


# ------------------------------------------------------------------- CSV, spreadsheet-safe
#
# A spreadsheet runs a cell that begins with = + - @ (or a tab or CR) as a formula, so a
# variant called "=HYPERLINK(...)" would run when a CSV is opened (OWASP "CSV injection").
# Such text cells get a leading apostrophe; numbers, negative ones too, stay numbers. A
# leading apostrophe is itself escaped, so :func:`read_csv` gives back exactly what was
# written.

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> object:
    """One cell as written to a CSV: formula-looking text gets a leading ``'``.

    Example:
        >>> csv_cell("=1+1"), csv_cell("-0.5"), csv_cell(-0.5), csv_cell("town")
        ("'=1+1", '-0.5', -0.5, 'town')
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _uncell(value: object) -> object:
    return value[1:] if isinstance(value, str) and value.startswith("'") else value


def _is_text(column: pd.Series) -> bool:
    return column.dtype == object or pd.api.types.is_string_dtype(column.dtype)


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are escaped with :func:`csv_cell`."""
    out = df.copy()
    for col in out.columns:
        if _is_text(out[col]):
            out[col] = out[col].map(csv_cell)
    out.columns = [csv_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` (without its index) as a spreadsheet-safe CSV, atomically.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "t.csv"
        >>> _ = write_csv(pd.DataFrame({"variant": ["=cmd", "a"], "value": [-1.0, 2.0]}), f)
        >>> print(f.read_text().strip())
        variant,value
        '=cmd,-1.0
        a,2.0
        >>> read_csv(f)["variant"].tolist()
        ['=cmd', 'a']
    """
    safe = csv_safe(df)
    return atomic_write(path, lambda tmp: safe.to_csv(tmp, index=False))


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv`, undoing its escapes."""
    df = pd.read_csv(path)
    for col in df.columns:
        if _is_text(df[col]):
            df[col] = df[col].map(_uncell)
    df.columns = [_uncell(c) for c in df.columns]
    return df
