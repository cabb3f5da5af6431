#!/usr/bin/env python3
"""Set up and run gridsim on a fresh machine with nothing but Python 3.11+.

    python3 dev.py baseline   # the baseline county-year: every figure in results/baseline/
    python3 dev.py test       # lint, type check and the whole test suite (notebooks included)

Each command creates or updates the project's virtual environment (.venv) from
pyproject.toml first, so it works on a fresh clone. Anything after the command is passed on:
``python3 dev.py test -k engine`` or ``python3 dev.py baseline --seed 7``.
Other commands: ``python3 dev.py setup`` (environment only), ``python3 dev.py gridsim ARGS``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".gridsim-installed"


def run(*cmd: str | Path, check: bool = True, **kw) -> int:
    """Run a command, echoing it; exit with its status on failure."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT, **kw)
    if check and code != 0:
        sys.exit(code)
    return code


def fingerprint() -> str:
    """What the environment was built from: pyproject.toml and this script."""
    h = hashlib.sha256()
    for name in ("pyproject.toml", "dev.py"):
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def setup() -> None:
    """Create .venv and install gridsim with its test and notebook extras (once per change)."""
    if sys.version_info < (3, 11):  # noqa: UP036  (this script runs before any venv exists)
        sys.exit(f"gridsim needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    if STAMP.exists() and STAMP.read_text() == fingerprint():
        return
    run(PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "-q", "-e", ".[dev]")
    STAMP.write_text(fingerprint())


def main(argv: list[str]) -> int:
    """Dispatch ``baseline``, ``test``, ``setup`` or ``gridsim``."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in ("baseline", "test", "setup", "gridsim"):
        print(f"dev.py: unknown command {command!r} (expected baseline, test, setup or gridsim)")
        return 2
    setup()
    env = dict(os.environ, MPLBACKEND="Agg")
    if command == "baseline":
        # Every figure (teaching uses all of them), where a bare `gridsim run` draws the core
        # few; a --figures given after the command wins, being the later option.
        return run(BIN / "gridsim", "run", "scenarios/pingyi_baseline.toml",
                   "--out", "results/baseline", "--figures", "all", *rest, env=env)  # fmt: skip
    if command == "test":
        run(BIN / "ruff", "check", "gridsim", "tests", "benchmarks", "dev.py", env=env)
        run(BIN / "mypy", env=env)  # the package is type-checked: [tool.mypy] in pyproject.toml
        # The documentation site (mkdocs.yml), warnings as errors; its examples run as it builds.
        run(BIN / "mkdocs", "build", "--strict", "--quiet", "--site-dir", ROOT / "site", env=env)
        # One worker per core; a test file stays on one worker, so its module fixtures (a
        # simulated county, a sweep) are computed once. `-n 0` after the command runs serially.
        parallel = ("-n", "auto", "--dist", "loadfile")
        return run(PYTHON, "-m", "pytest", "-q", "--nbmake", *parallel, *rest, check=False, env=env)
    if command == "gridsim":
        return run(BIN / "gridsim", *rest, check=False, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
