"""The CJK font set-up for matplotlib, so that figures can be drawn in Chinese.

Chinese text needs a CJK font. :func:`setup_fonts` finds one (the ``noto-cjk-sans-otc``
PyPI package first, then a few well-known system fonts), registers it with matplotlib's
font manager by file path and puts it first in ``font.sans-serif`` with DejaVu Sans as
the Latin fallback. Without one, drawing in Chinese raises :class:`FontNotFoundError`,
a :class:`gridsim.errors.UserError` that says what to install.

Example:
    >>> setup_fonts("en") is None or isinstance(setup_fonts("en"), str)
    True
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from gridsim.errors import UserError
from gridsim.labels import check_lang

__all__ = ["FONT_REQUIREMENT", "FontNotFoundError", "find_cjk_font", "setup_fonts"]

#: What the project's set-up installs so that Chinese renders (see :func:`setup_fonts`).
FONT_REQUIREMENT = "noto-cjk-sans-otc"

#: Preferred family names inside the CJK fonts we know, best first (Simplified Chinese
#: glyph forms before the Japanese, Korean and Traditional ones of the same collection).
_CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Noto Sans CJK KR",
    "Noto Sans CJK HK",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)

#: Well-known system locations (Debian's fonts-noto-cjk and fonts-wqy-microhei).
_SYSTEM_FONT_FILES: tuple[str, ...] = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)

_LATIN_FALLBACK: tuple[str, ...] = ("DejaVu Sans",)


class FontNotFoundError(UserError):
    """No font that can draw Chinese is installed (the user's set-up, so a one-line error).

    Example:
        >>> print(FontNotFoundError())  # doctest: +ELLIPSIS
        no font that can draw Chinese was found; install one with `pip install ...
    """

    def __init__(self) -> None:
        super().__init__(
            "",
            "",
            "no font that can draw Chinese was found; install one with "
            f"`pip install {FONT_REQUIREMENT}` (or `apt-get install -y fonts-noto-cjk`)",
        )


def _package_font() -> Path | None:
    """Find the font file shipped by the ``noto-cjk-sans-otc`` (or ``mplfonts``) package."""
    from importlib import resources
    from importlib.util import find_spec

    for module, name in (
        ("noto_cjk_sans_otc", "NotoSansCJK-Regular.ttc"),
        ("mplfonts", "fonts/NotoSansCJKsc-Regular.otf"),
    ):
        if find_spec(module) is None:
            continue
        try:
            found = resources.files(module).joinpath(name)
        except ModuleNotFoundError:
            continue
        if not isinstance(found, os.PathLike):  # a zipped install has no file path
            continue
        path = Path(os.fspath(found))
        if path.is_file():
            return path
    return None


def _fc_list_font() -> Path | None:
    """Find a Chinese-capable font that fontconfig knows about (if ``fc-list`` exists)."""
    if shutil.which("fc-list") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file", "family"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    candidates = []
    for line in out.splitlines():
        path, _, family = line.partition(":")
        rank = next((i for i, f in enumerate(_CJK_FAMILIES) if f in family), len(_CJK_FAMILIES))
        candidates.append((rank, path.strip()))
    for _, path in sorted(candidates):
        if path and Path(path).is_file():
            return Path(path)
    return None


@lru_cache(maxsize=1)
def find_cjk_font() -> Path | None:
    """Path of a font file that can draw Chinese, or None if none is installed.

    Looks, in order, at the ``noto-cjk-sans-otc`` PyPI package (what the project's set-up
    installs), the ``mplfonts`` package, Debian's ``fonts-noto-cjk`` and
    ``fonts-wqy-microhei`` files, and anything ``fc-list :lang=zh`` reports.

    Example:
        >>> find_cjk_font() is None or find_cjk_font().is_file()
        True
    """
    found = _package_font()
    if found is not None:
        return found
    for name in _SYSTEM_FONT_FILES:
        if Path(name).is_file():
            return Path(name)
    return _fc_list_font()


@lru_cache(maxsize=1)
def _register_cjk_font() -> str | None:
    """Add the CJK font file to matplotlib's font manager; its best family name or None."""
    from matplotlib import font_manager

    path = find_cjk_font()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    target = os.path.realpath(path)
    families = {
        entry.name
        for entry in font_manager.fontManager.ttflist
        if os.path.realpath(os.fspath(entry.fname)) == target
    }
    for family in _CJK_FAMILIES:
        if family in families:
            return family
    return sorted(families)[0] if families else None


def setup_fonts(lang: str = "zh") -> str | None:
    """Register a CJK font with matplotlib and make it the first sans-serif family.

    Sets ``font.family`` to sans-serif, ``font.sans-serif`` to the CJK family followed by
    DejaVu Sans (whose glyphs fill anything the CJK font lacks), and
    ``axes.unicode_minus = False``. The same font list serves both languages, so a figure
    never depends on which language was drawn last. Calling it again is cheap.

    Args:
        lang: the language about to be drawn; ``"zh"`` requires a CJK font.

    Returns:
        The CJK family name in use, or None (possible only for ``lang="en"``).

    Raises:
        FontNotFoundError: ``lang="zh"`` and no CJK font is installed; the message says
            what to install.

    Example:
        >>> family = setup_fonts("en")
        >>> import matplotlib
        >>> matplotlib.rcParams["axes.unicode_minus"]
        False
    """
    import matplotlib

    check_lang(lang)
    family = _register_cjk_font()
    if family is None and lang == "zh":
        raise FontNotFoundError()
    chain = ([family] if family else []) + list(_LATIN_FALLBACK)
    rest = [f for f in matplotlib.rcParams["font.sans-serif"] if f not in chain]
    matplotlib.rcParams["font.family"] = ["sans-serif"]
    matplotlib.rcParams["font.sans-serif"] = chain + rest
    matplotlib.rcParams["axes.unicode_minus"] = False
    return family
