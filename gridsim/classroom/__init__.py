"""The classroom: an offline teaching page and a lecture figure pack for party schools.

* :mod:`~gridsim.classroom.design` — the controls, their levels (scenario overrides), the KPIs
  shown and the short explanations (``design.toml``).
* :mod:`~gridsim.classroom.sweep` — the common-random-number sweep behind the page.
* :mod:`~gridsim.classroom.page` — one self-contained HTML page (``template.html``).
* :mod:`~gridsim.classroom.figures` — the lecture figure pack (PNG and SVG, zh and en).
* :mod:`~gridsim.classroom.build` and :mod:`~gridsim.classroom.cli` — ``gridsim classroom``.
"""
