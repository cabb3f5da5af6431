#!/usr/bin/env python3
"""Set up and run gridsim on a fresh machine with nothing but Python 3.11+.

    python3 dev.py baseline   # the baseline county-year: every figure in results/baseline/
    python3 dev.py test       # lint, type check and the whole test suite (notebooks included)

Each command creates or updates the project's virtual environment (.venv) first, so it works
on a fresh clone: every package at the version and with the file hashes pinned in
requirements.lock, then gridsim itself (editable, without resolving anything). Anything after
the command is passed on: ``python3 dev.py test -k engine`` or ``python3 dev.py baseline
--seed 7``. Other commands: ``python3 dev.py setup`` (environment only),
``python3 dev.py gridsim ARGS``, and ``python3 dev.py lock`` (rewrite requirements.lock from
pyproject.toml, keeping the pins that still fit; ``lock --upgrade`` takes the newest of
everything, ``lock --upgrade-package NAME`` of one package).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".gridsim-installed"
LOCK = ROOT / "requirements.lock"
#: The tool that writes the lock, pinned so that the same pyproject.toml gives the same lock.
UV = "uv==0.13.8"
#: The platform the lock is resolved for (CI and every developer's machine).
TARGET = ("--python-version", "3.11", "--python-platform", "x86_64-unknown-linux-gnu")
#: The lock's own line recording what it was resolved from (see lock_inputs).
INPUTS_LINE = "# lock inputs (dev.py lock_inputs): "


def run(*cmd: str | Path, check: bool = True, **kw) -> int:
    """Run a command, echoing it; exit with its status on failure."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT, **kw)
    if check and code != 0:
        sys.exit(code)
    return code


def fingerprint() -> str:
    """What the environment was built from: pyproject.toml, requirements.lock and this script.

    A change to any of them (a new pin in the lock, say) reinstalls at the next command.
    """
    h = hashlib.sha256()
    for name in ("pyproject.toml", LOCK.name, "dev.py"):
        path = ROOT / name
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


def lock_inputs() -> str:
    """Hash of what requirements.lock is resolved from: pyproject.toml's requirements.

    That is ``requires-python``, the dependencies, the extras and the build requirements;
    a change to the version, the description or a tool's settings leaves it alone.
    """
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    project = data.get("project", {})
    payload = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "build-system": data.get("build-system", {}).get("requires", []),
        "target": list(TARGET),
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lock_problem() -> str | None:
    """Why requirements.lock cannot be installed as it is (``None`` when it can)."""
    if not LOCK.exists():
        return "requirements.lock: missing; write it with `python3 dev.py lock`"
    for line in LOCK.read_text("utf-8").splitlines():
        if line.startswith(INPUTS_LINE):
            if line[len(INPUTS_LINE) :].strip() == lock_inputs():
                return None
            break
    return (
        "requirements.lock: out of date with pyproject.toml's requirements (dependencies, "
        "extras or build requirements changed); run `python3 dev.py lock` and commit it"
    )


def locked_names(text: str) -> set[str]:
    """The normalised names of the packages a lockfile pins."""
    found = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^]]*\])?==", text, re.MULTILINE)
    return {normalise(name) for name in found}


def normalise(name: str) -> str:
    """A package name as PEP 503 compares it (``Foo_Bar`` and ``foo-bar`` are one package)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def remove_unlocked() -> None:
    """Uninstall what the lock no longer pins (left over from an earlier lock)."""
    listed = subprocess.run(
        [str(PYTHON), "-m", "pip", "list", "--format=json"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    pinned = locked_names(LOCK.read_text("utf-8")) | {"gridsim"}
    extra = sorted(p["name"] for p in json.loads(listed) if normalise(p["name"]) not in pinned)
    if extra:
        run(PYTHON, "-m", "pip", "uninstall", "-q", "-y", *extra)


def setup() -> None:
    """Create .venv and install the locked packages, then gridsim (once per change)."""
    if sys.version_info < (3, 11):  # noqa: UP036  (this script runs before any venv exists)
        sys.exit(f"gridsim needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    problem = lock_problem()
    if problem is not None:
        sys.exit(f"dev.py: {problem}")
    if not PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    if STAMP.exists() and STAMP.read_text() == fingerprint():
        return
    if sys.version_info[:2] != (3, 11):  # the pins hold hashes of every platform's files
        print(f"dev.py: requirements.lock was resolved for Python 3.11; installing it on "
              f"{sys.version.split()[0]}", flush=True)  # fmt: skip
    STAMP.unlink(missing_ok=True)  # an interrupted install is redone
    # Exactly the locked files: pip checks every hash and that nothing is missing.
    run(PYTHON, "-m", "pip", "install", "-q", "--require-hashes", "-r", LOCK)
    remove_unlocked()
    # gridsim itself, resolving nothing: its build requirements are in the lock too.
    run(PYTHON, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", ".")
    run(PYTHON, "-m", "pip", "check")
    STAMP.write_text(fingerprint())


def lock(rest: list[str]) -> int:
    """Rewrite requirements.lock with uv (in a throwaway venv) from pyproject.toml.

    The pins of the present lock are kept where they still fit (a new dependency adds its
    own); ``--upgrade`` or ``--upgrade-package NAME`` after the command asks for newer ones.
    """
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    build = [*data.get("build-system", {}).get("requires", []), "pip"]
    with tempfile.TemporaryDirectory(prefix="gridsim-lock-") as tmp:
        tools = Path(tmp) / "venv"
        run(sys.executable, "-m", "venv", tools)
        tool_bin = tools / BIN.name
        run(tool_bin / "python", "-m", "pip", "install", "-q", UV)
        build_in = Path(tmp) / "build-requirements.in"
        build_in.write_text("\n".join(build) + "\n", "utf-8")
        out = Path(tmp) / LOCK.name
        if LOCK.exists():  # uv prefers the versions already in its output file
            shutil.copyfile(LOCK, out)
        code = run(
            tool_bin / "uv", "pip", "compile", "pyproject.toml", build_in, "--extra", "dev",
            "--generate-hashes", *TARGET, "--custom-compile-command", "python3 dev.py lock",
            "--quiet", "--output-file", out, *rest, check=False,
        )  # fmt: skip
        if code != 0:
            return code
        via = "pyproject.toml's build-system, and pip"
        text = out.read_text("utf-8").replace(f"-r {build_in}", via)
    text = "\n".join(line for line in text.splitlines() if not line.startswith(INPUTS_LINE))
    header = (
        f"{INPUTS_LINE}{lock_inputs()}\n"
        "# gridsim's dependencies with its dev extra (which takes dask and notebooks), for\n"
        f"# {' '.join(TARGET)}, written by {UV}.\n"
        "# Do not edit: change pyproject.toml and run `python3 dev.py lock`.\n"
    )
    LOCK.write_text(header + text + "\n", "utf-8")
    print(f"wrote {LOCK.name}: {len(locked_names(text))} packages", flush=True)
    return 0


def main(argv: list[str]) -> int:
    """Dispatch ``baseline``, ``test``, ``setup``, ``gridsim`` or ``lock``."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in ("baseline", "test", "setup", "gridsim", "lock"):
        expected = "baseline, test, setup, gridsim or lock"
        print(f"dev.py: unknown command {command!r} (expected {expected})")
        return 2
    if command == "lock":
        return lock(rest)
    setup()
    env = dict(os.environ, MPLBACKEND="Agg")
    if command == "baseline":
        # Every figure (teaching uses all of them), where a bare `gridsim run` draws the core
        # few; a --figures given after the command wins, being the later option.
        return run(BIN / "gridsim", "run", "scenarios/pingyi_baseline.toml",
                   "--out", "results/baseline", "--figures", "all", *rest, env=env)  # fmt: skip
    if command == "test":
        linted = ("gridsim", "tests", "benchmarks", "scenarios", "notebooks", "dev.py")
        run(BIN / "ruff", "check", *linted, env=env)
        run(BIN / "mypy", env=env)  # the package is type-checked: [tool.mypy] in pyproject.toml
        # The documentation site (mkdocs.yml), warnings as errors; its examples run as it builds.
        # (NO_MKDOCS_2_WARNING: Material's banner about MkDocs 2 is news, not a problem here.)
        docs_env = dict(env, NO_MKDOCS_2_WARNING="1")
        run(BIN / "mkdocs", "build", "--strict", "--quiet", "--site-dir", ROOT / "site",
            env=docs_env)  # fmt: skip
        # One worker per core; a test file stays on one worker, so its module fixtures (a
        # simulated county, a sweep) are computed once. `-n 0` after the command runs serially.
        parallel = ("-n", "auto", "--dist", "loadfile")
        return run(PYTHON, "-m", "pytest", "-q", "--nbmake", *parallel, *rest, check=False, env=env)
    if command == "gridsim":
        return run(BIN / "gridsim", *rest, check=False, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
