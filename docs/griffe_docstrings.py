"""Griffe extension for the API reference: read gridsim's docstrings as their author meant.

gridsim's docstrings follow the Google style with two habits the Google parser of
mkdocstrings does not share:

- ``Example:`` (singular) heads the doctests; the parser knows only ``Examples:`` and would
  render the doctests as prose (``[...][:2]`` then reads as a Markdown link);
- a note after a ``Raises:`` list, set off by a blank line but still indented (as in
  ``run_experiment``), which the parser would read as one more exception.

This rewrites both before parsing; the docstrings themselves are left as they are.
Referenced from ``mkdocs.yml`` (mkdocstrings' ``extensions`` option).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ENTRY = re.compile(r"^    [A-Za-z_][\w.]*( \(.*\))?:")


def _rewrite(text: str) -> str:
    lines = re.sub(r"^Example:$", "Examples:", text, flags=re.M).split("\n")
    out: list[str] = []
    in_raises = after_blank = False
    for i, line in enumerate(lines):
        if not line.startswith(" ") and line.strip():
            in_raises = line == "Raises:"
        elif in_raises and after_blank and line.startswith("    ") and not _ENTRY.match(line):
            # A note after the entries: dedent it and everything up to the next blank line.
            j = i
            while j < len(lines) and lines[j].strip():
                lines[j] = lines[j][4:] if lines[j].startswith("    ") else lines[j]
                j += 1
            line = lines[i]
            in_raises = False
        after_blank = not line.strip()
        out.append(line)
    return "\n".join(out)


class GridsimDocstrings(Extension):
    """Rewrite each docstring once its object is created (see the module's docstring)."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:  # noqa: D102
        if obj.docstring is not None:
            obj.docstring.value = _rewrite(obj.docstring.value)
