"""Provenance: the version and the lock hash in every result, the lockfile, citation, changelog.

A resumed sweep whose recorded ``gridsim_version`` or ``lock_hash`` differs from the running
one is refused in one line (the recorded values are faked here); ``run.json`` carries
pyproject's version even where the installed metadata is stale; ``requirements.lock`` is
current with pyproject.toml, hashed, and part of dev.py's installation fingerprint.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shutil
import textwrap
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

import gridsim
from gridsim import version as version_module
from gridsim.cli import main
from gridsim.experiment.runner import run_experiment
from gridsim.experiment.store import ResultsConflictError
from gridsim.version import lock_hash, provenance, source_version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
VERSION = PYPROJECT["project"]["version"]


def load_dev():
    """dev.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("gridsim_dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- the version


def test_version_is_pyprojects_even_when_installed_metadata_is_stale():
    # An editable install's metadata is written once; the checkout's pyproject.toml wins.
    assert gridsim.__version__ == VERSION
    assert source_version(ROOT) == VERSION
    assert provenance()["gridsim_version"] == VERSION


def test_version_falls_back_to_installed_metadata_outside_a_checkout(tmp_path, monkeypatch):
    assert source_version(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\nversion = "9"\n')
    assert source_version(tmp_path) is None  # another project's pyproject is not ours
    (tmp_path / "pyproject.toml").write_text("not = [toml")
    assert source_version(tmp_path) is None

    def missing(name: str) -> str:
        raise version_module.PackageNotFoundError(name)

    monkeypatch.setattr(version_module, "version", missing)
    assert version_module.installed_version() == "0.0.0+unknown"


def test_citation_changelog_and_pyproject_agree():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text("utf-8"))
    for key in ("cff-version", "message", "title", "authors", "version", "license"):
        assert cff.get(key), key
    assert cff["cff-version"] == "1.2.0"
    assert str(cff["version"]) == VERSION
    assert cff["license"] == PYPROJECT["project"]["license"]
    assert all(isinstance(a, dict) and (a.get("name") or a.get("family-names"))
               for a in cff["authors"])  # fmt: skip
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    assert f"\n## {VERSION}\n" in changelog, "every released version has its section"
    assert "\n## Versioning\n" in changelog


# --------------------------------------------------------------------------- the lockfile


def test_lock_hash_follows_the_pins_not_the_comments(tmp_path):
    text = (ROOT / "requirements.lock").read_text("utf-8")
    assert lock_hash() == lock_hash(ROOT / "requirements.lock") is not None
    assert re.fullmatch(r"[0-9a-f]{16}", lock_hash() or "")
    plain = tmp_path / "plain.lock"
    plain.write_text("\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#")))
    assert lock_hash(plain) == lock_hash()  # annotations and headers do not count
    bumped = tmp_path / "bumped.lock"
    bumped.write_text(re.sub(r"^simpy==\S+", "simpy==0.0.1", text, flags=re.MULTILINE))
    assert lock_hash(bumped) != lock_hash()
    assert lock_hash(tmp_path / "absent.lock") is None


def test_lock_is_current_hashed_and_covers_the_dev_install():
    dev = load_dev()
    assert dev.lock_problem() is None, "run `python3 dev.py lock` and commit requirements.lock"
    text = (ROOT / "requirements.lock").read_text("utf-8")
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n(\s+--hash=sha256:)", text, re.M)
    names = dev.locked_names(text)
    assert len(pins) == len(names) > 20, "every pin has its hashes"
    project = PYPROJECT["project"]
    wanted = [*project["dependencies"], *PYPROJECT["build-system"]["requires"]]
    for extra in ("dev", "dask", "notebooks"):
        wanted += project["optional-dependencies"][extra]
    for requirement in wanted:
        name = normalise(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0])
        assert name == "gridsim" or name in names, name


def test_a_changed_requirement_makes_the_lock_stale_and_the_lock_reinstalls(tmp_path, monkeypatch):
    for name in ("pyproject.toml", "requirements.lock", "dev.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    dev = load_dev()
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    monkeypatch.setattr(dev, "LOCK", tmp_path / "requirements.lock")
    assert dev.lock_problem() is None
    before = dev.fingerprint()
    # A new pin in the lock changes the installation fingerprint: setup reinstalls.
    lock = tmp_path / "requirements.lock"
    lock.write_text(lock.read_text("utf-8").replace("simpy==", "simpy==0.0.", 1), "utf-8")
    assert dev.fingerprint() != before
    # A version bump alone does not make the lock stale; a new dependency does.
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text("utf-8")
    pyproject.write_text(text.replace(f'version = "{VERSION}"', 'version = "9.9.9"'), "utf-8")
    assert dev.lock_problem() is None
    pyproject.write_text(text.replace('"simpy>=4.1",', '"simpy>=4.1",\n    "salib>=1.5",'))
    problem = dev.lock_problem()
    assert problem is not None and "python3 dev.py lock" in problem and "\n" not in problem


# --------------------------------------------------------------------------- run.json


def test_run_json_records_the_version_and_the_lock_hash(tmp_path):
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", str(ROOT / "scenarios/one_town.toml"), "--days", "2", "--seed", "1",
                     "--out", str(out), "--quiet", "--figures", "none"])  # fmt: skip
    assert code == 0
    meta = json.loads((out / "run.json").read_text("utf-8"))
    assert meta["gridsim_version"] == VERSION
    assert meta["lock_hash"] == lock_hash(ROOT / "requirements.lock")


# --------------------------------------------------------------------------- sweeps


def fake_simulate(scenario, seed, days=None):
    """A deterministic stand-in for the engine (no simulation: the refusal is the subject)."""
    rng = np.random.default_rng(seed)
    return SimpleNamespace(kpis={"response_time_mean_h": 10.0 + rng.normal()})


@pytest.fixture
def swept(tmp_path: Path) -> tuple[Path, Path]:
    exp = tmp_path / "tiny.toml"
    exp.write_text(textwrap.dedent(f"""
        [experiment]
        name = "tiny"
        base = "{(ROOT / "scenarios" / "one_town.toml").as_posix()}"
        replications = 2
        days = 3
        seed = 5

        [[variants]]
        name = "ladder"
        overrides = {{ "escalation.policy" = "strict_ladder" }}

        [[variants]]
        name = "triage"
        overrides = {{ "escalation.policy" = "direct_triage" }}
    """), "utf-8")  # fmt: skip
    out = tmp_path / "results"
    run_experiment(exp, executor="serial", out=out, progress=False, simulate=fake_simulate)
    return exp, out


def test_manifest_records_the_version_and_the_lock_hash(swept):
    exp, out = swept
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["gridsim_version"] == VERSION
    assert manifest["lock_hash"] == lock_hash() is not None
    again = run_experiment(exp, executor="serial", out=out, progress=False,
                           simulate=fake_simulate)  # fmt: skip
    assert (again.computed, again.skipped) == (0, 4)  # same version and lock: resumed


@pytest.mark.parametrize(
    ("field", "recorded", "shown"),
    [
        ("gridsim_version", "0.2.0", "'0.2.0'"),
        ("lock_hash", "0123456789abcdef", "'0123456789abcdef'"),
        ("lock_hash", None, "none recorded"),  # a manifest from before lock hashes
    ],
)
def test_a_resume_by_another_version_or_lock_is_refused_in_one_line(
    swept, capsys, field, recorded, shown
):
    exp, out = swept
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    if recorded is None:
        del manifest[field]
    else:
        manifest[field] = recorded
    manifest_path.write_text(json.dumps(manifest), "utf-8")
    runs_before = sorted((out / "runs").iterdir())
    with pytest.raises(ResultsConflictError) as caught:
        run_experiment(exp, executor="serial", out=out, progress=False, simulate=fake_simulate)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{manifest_path}: {field}: ")
    assert shown in message and repr(provenance()[field]) in message and "--fresh" in message
    # The command line: the same line, exit status 2, nothing computed or changed.
    code = main(["sweep", str(exp), "--out", str(out), "--executor", "serial", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and str(out) in err and field in err and shown in err
    assert sorted((out / "runs").iterdir()) == runs_before
    assert json.loads(manifest_path.read_text("utf-8")).get(field) == recorded
    # --fresh discards them and records the running version and lock.
    fresh = run_experiment(exp, executor="serial", out=out, progress=False,
                           simulate=fake_simulate, fresh=True)  # fmt: skip
    assert fresh.computed == 4
    assert json.loads(manifest_path.read_text("utf-8"))[field] == provenance()[field]
