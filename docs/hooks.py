"""MkDocs hook: put this checkout's gridsim first on the path and add the generated pages.

The KPI and scenario reference pages (English and Chinese) are written at build time by
``gridsim.output.docs_pages`` from the KPI registry and the scenario's JSON schema, so
they always match the code being documented. Referenced from ``mkdocs.yml`` (``hooks:``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def on_config(config):  # noqa: ANN001, ANN201 (MkDocs' hook signature)
    """Import gridsim from this checkout and run the examples from its top folder.

    The tutorials' executed examples (markdown-exec) import gridsim and open
    ``scenarios/...`` relative to the repository, whichever checkout the virtual
    environment was installed from. (MkDocs restores ``sys.path`` after loading a hook
    module, hence here rather than at import.)
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("MPLBACKEND", "Agg")
    return config


def on_files(files, config):  # noqa: ANN001, ANN201 (MkDocs' hook signature)
    """Add every page of ``gridsim.output.docs_pages.PAGES`` as a generated file."""
    from mkdocs.structure.files import File

    from gridsim.output.docs_pages import PAGES

    for path, page in PAGES.items():
        files.append(File.generated(config, path, content=page()))
    return files
