"""A province run: every county on an executor, tables partitioned by county, one summary.

:func:`run_province` is the room's entry point. It derives each county's scenario
(:mod:`gridsim.province.derive`), checks every county's memory against the resource guard
before anything starts (:func:`check_memory`), computes the counties on an executor
(``processes`` by default, ``dask`` for a cluster; :mod:`gridsim.experiment.executors`),
largest first so the last to finish are small, and writes to the output location::

    province.json               what was run: the file, the rules, seed, days, provenance
    counties.parquet, .csv      one row per county: identity, derived figures, KPIs, costs
    summary.csv                 the province: totals, and each headline KPI across counties
    counties/<key>.json         each county's summary, written by its worker (last)
    tables/<table>/county=<key>/part-0.parquet    every run table, partitioned by county
    figures/                    the province figures, zh and en (a local output only)

A county whose summary is already there with the same fingerprint (scenario, seed, days,
tables, gridsim version and lock hash) is not recomputed: an interrupted province run
resumes. What an earlier run into the same location wrote for counties or tables this run
leaves out is removed, so the partitions are always this run's.

Example:
    >>> import tempfile
    >>> r = run_province("scenarios/provinces/synthetic_20.toml", tempfile.mkdtemp(),
    ...                  executor="serial", days=2, cities=["south"], figures=False)
    >>> len(r.counties), r.computed
    (7, 7)
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd

from gridsim.errors import UserError
from gridsim.experiment.executors import Executor, make_executor
from gridsim.files import foreign_directory, write_csv, write_marker
from gridsim.model.guard import check_days, estimate, memory_bound
from gridsim.model.loader import scenario_from_dict
from gridsim.province.derive import county_scenario, towns_of, urban_shares
from gridsim.province.file import Province, load_province
from gridsim.province.summary import counties_table, province_summary
from gridsim.province.tasks import SUMMARY_DIR, TABLES, CountyTask, run_county
from gridsim.version import provenance

log = logging.getLogger("gridsim.province")

#: The kind of directory a province run writes (its ``.gridsim`` marker).
KIND = "province"


class ProvinceRunError(UserError):
    """A province run asked for something that cannot be done (output, selection, memory)."""


@dataclass(frozen=True, eq=False)
class ProvinceResult:
    """What :func:`run_province` returns.

    Attributes:
        out: the output location.
        counties: one row per county (``counties.parquet``).
        summary: the province summary (``summary.csv``).
        computed: counties computed by this invocation.
        resumed: counties whose earlier summary was reused.
        wall_s: wall seconds of the whole run.
    """

    out: str
    counties: pd.DataFrame
    summary: pd.DataFrame
    computed: int
    resumed: int
    wall_s: float


def plan_counties(
    province: Province,
    out: str | Path,
    days: float | None = None,
    cities: Sequence[str] | None = None,
    events: bool = True,
) -> list[CountyTask]:
    """One task per county (of the chosen cities), largest county first.

    Raises:
        ProvinceRunError: a city asked for is not in the province.
    """
    chosen = _chosen(province, cities)
    horizon = days if days is not None else province.settings.horizon_days
    shares = urban_shares(province)
    tables = TABLES if events else tuple(t for t in TABLES if t != "events")
    tasks = []
    for county in chosen:
        scenario = county_scenario(province, county, shares)
        city = province.city(county.city)
        identity = {
            "code": county.code, "name": county.name, "name_zh": county.name_zh,
            "city_name": city.name, "city_name_zh": city.name_zh, "kind": county.kind,
            "population": county.population, "population_source": county.population_source,
            "towns": towns_of(county, province.rules.residents_per_town),
            "urban_share": round(shares[county.key], 4),
            "urban_towns": sum(t.urban for t in scenario.county.towns),
        }  # fmt: skip
        tasks.append(CountyTask(
            key=county.key, city=county.city, scenario=scenario.model_dump(),
            province_seed=province.settings.seed,
            days=float(horizon if horizon is not None else scenario.meta.horizon_days),
            out=str(out), tables=tables, identity=identity,
        ))  # fmt: skip
    tasks.sort(key=lambda t: -t.identity["population"])
    return tasks


def _chosen(province: Province, cities: Sequence[str] | None) -> list[Any]:
    if not cities:
        return list(province.counties)
    known = {c.city for c in province.counties}
    for city in cities:
        if city not in known:
            raise ProvinceRunError(
                "", "--cities", f"cities of {province.source.name} ({', '.join(sorted(known))}); "
                f"no {city!r}")  # fmt: skip
    return [c for c in province.counties if c.city in set(cities)]


def check_memory(tasks: Sequence[CountyTask], parallel: int) -> float:
    """Refuse a province whose largest county would not fit beside ``parallel - 1`` others.

    Each of ``parallel`` workers may hold one county at a time, so one county may use the
    resource guard's bound (:func:`gridsim.model.guard.memory_bound`) divided by
    ``parallel``. Returns the largest county's estimate in bytes.

    Raises:
        ProvinceRunError: naming the county, its estimate and the bound.
    """
    bound = memory_bound() / max(1, parallel)
    largest = 0.0
    for task in tasks[: max(1, parallel)]:  # largest first: the rest are smaller
        need = estimate(scenario_from_dict(task.scenario), task.days).memory_bytes
        largest = max(largest, need)
        if need > bound:
            raise ProvinceRunError(
                "", f"county {task.key}",
                f"a county that fits in memory: ~{need / 1e9:.3g} GB for {task.days:g} days, "
                f"over {bound / 1e9:.3g} GB per worker ({parallel} workers share the bound); "
                "use fewer workers, fewer days, or raise it with --max-memory GB",
            )  # fmt: skip
    return largest


def run_province(
    province: str | Path | Province,
    out: str | Path,
    executor: str | Executor = "processes",
    workers: int | None = None,
    address: str | None = None,
    days: float | None = None,
    cities: Sequence[str] | None = None,
    events: bool = True,
    figures: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ProvinceResult:
    """Run every county of a province and write its tables, summary and figures.

    Args:
        province: a province file, or one loaded with :func:`load_province`.
        out: output location: a local directory (new, empty, or an earlier province run)
            or an fsspec URL every worker can write to (``s3://bucket/run``).
        executor: ``"processes"``, ``"dask"``, ``"serial"`` or an executor object.
        workers: worker processes (default: one per core).
        address: a Dask scheduler (``tcp://host:8786``); implies ``executor="dask"``.
        days: simulated days per county (default: the province's, else the template's).
        cities: run only the counties of these cities (keys).
        events: write the event log too (the largest table).
        figures: draw the province figures (local output only).
        progress: called with (counties done, counties to do): once with 0 when the
            counties start (after every check), then after each county.

    Raises:
        ProvinceFileError: the province file or its tables are wrong.
        ProvinceRunError: the output location, the selection or the memory does not fit.
    """
    start = time.perf_counter()
    loaded = province if isinstance(province, Province) else load_province(province)
    if days is not None:
        check_days(days)
    url = str(out)
    fs, root = _open_output(url)
    # Workers may run elsewhere (another directory, a cluster's node): an absolute location.
    where = str(_local_path(url).resolve()) if _is_local(url) else url
    tasks = plan_counties(loaded, where, days, cities, events)
    done = _finished(fs, root, tasks)
    todo = [t for t in tasks if t.key not in done]
    chosen = executor if not isinstance(executor, str) else make_executor(
        "dask" if address else executor, workers, address)  # fmt: skip
    if url.startswith("memory://") and getattr(chosen, "name", "") != "serial":
        # each worker process has its own memory filesystem: the tables would be lost
        raise ProvinceRunError("", "--out", "a location every worker can reach (memory:// is "
                               "one process's own: use the serial executor)")  # fmt: skip
    if todo:
        check_memory(todo, min(chosen.workers, len(todo)))
    _claim_output(fs, root, url)  # every refusal is above: a refused run writes nothing
    _prune(fs, root, tasks, todo)
    summaries = dict(done)
    if todo:
        if progress is not None:
            progress(0, len(todo))
        with chosen:
            for summary in chosen.run(run_county, todo):
                summaries[summary["key"]] = summary
                if progress is not None:
                    progress(len(summaries) - len(done), len(todo))
    ordered = [summaries[t.key] for t in sorted(tasks, key=lambda t: t.key)]
    counties = counties_table(ordered)
    summary = province_summary(counties)
    _write_outputs(fs, root, _is_local(url), loaded, tasks, counties, summary, chosen,
                   len(todo), start)  # fmt: skip
    if figures and _is_local(url):
        from gridsim.province.figures import draw_province_figures

        draw_province_figures(counties, loaded, _local_path(url) / "figures")
    return ProvinceResult(url, counties, summary, len(todo), len(done),
                          time.perf_counter() - start)  # fmt: skip


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _local_path(url: str) -> Path:
    """The directory of a local output location (a path or a ``file://`` URL)."""
    return Path(url.removeprefix("file://"))


def _open_output(url: str) -> tuple[Any, str]:
    """The filesystem and root of ``url``, refusing a location holding someone else's files.

    Writes nothing: :func:`_claim_output` creates and marks the location once the run is
    known to go ahead.
    """
    if _is_local(url):
        reason = foreign_directory(_local_path(url), KIND)
        if reason is not None:
            raise ProvinceRunError(_local_path(url), "", reason)
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise ProvinceRunError("", "--out", f"a local path or an fsspec URL ({exc})") from None
    if not _is_local(url):
        if fs.exists(root) and fs.ls(root) and not fs.exists(f"{root}/.gridsim"):
            raise ProvinceRunError(url, "", "an empty location or one gridsim wrote (no .gridsim)")
    return fs, root


def _claim_output(fs: Any, root: str, url: str) -> None:
    """Create the output location and its ``.gridsim`` marker."""
    if _is_local(url):
        local = _local_path(url)
        local.mkdir(parents=True, exist_ok=True)
        write_marker(local, KIND)
        return
    fs.makedirs(root, exist_ok=True)
    with fs.open(f"{root}/.gridsim", "w") as f:
        f.write(json.dumps({"generator": "gridsim", "kind": KIND}) + "\n")


def _prune(
    fs: Any, root: str, tasks: Sequence[CountyTask], todo: Sequence[CountyTask]
) -> None:
    """Remove what an earlier run left and this one does not write or will rewrite.

    A county not in this run (another ``--cities``), or a table this run leaves out
    (``--no-events``), would otherwise stay among the partitions, mixed with this run's
    tables though the counties table does not list it. A county's summary goes before its
    partitions, and the summary of a county about to be computed again (other days, other
    rules) goes at once: a summary always means complete partitions of that summary's run,
    even when this run is interrupted while rewriting them.
    """
    keys = {t.key for t in tasks}
    redo = {t.key for t in todo}
    tables = set(tasks[0].tables) if tasks else set()
    summaries = f"{root}/{SUMMARY_DIR}"
    if fs.exists(summaries):
        for path in fs.ls(summaries, detail=False):
            name = path.rstrip("/").rsplit("/", 1)[-1]
            key = name.removesuffix(".json")
            if name.endswith(".json") and (key not in keys or key in redo):
                fs.rm(path)
    for table in TABLES:
        base = f"{root}/tables/{table}"
        if not fs.exists(base):
            continue
        if table not in tables:  # the whole table, not only its partitions
            fs.rm(base, recursive=True)
            continue
        for path in fs.ls(base, detail=False):
            name = path.rstrip("/").rsplit("/", 1)[-1]
            if table not in tables or name.removeprefix("county=") not in keys:
                fs.rm(path, recursive=True)


def _finished(fs: Any, root: str, tasks: Iterable[CountyTask]) -> dict[str, dict]:
    """Summaries of counties already computed with the same fingerprint (resume)."""
    done = {}
    for task in tasks:
        path = f"{root}/{SUMMARY_DIR}/{task.key}.json"
        try:
            with fs.open(path, "rb") as f:
                summary = json.loads(f.read())
        except (OSError, ValueError):  # absent, unreadable or half-written: compute it
            continue
        if isinstance(summary, dict) and summary.get("fingerprint") == task.fingerprint():
            done[task.key] = summary
    return done


def _write_outputs(
    fs: Any, root: str, local: bool, province: Province, tasks: Sequence[CountyTask],
    counties: pd.DataFrame, summary: pd.DataFrame, executor: Executor, computed: int,
    start: float,
) -> None:  # fmt: skip
    versions = counties[["gridsim_version", "lock_hash"]].drop_duplicates()
    if len(versions) > 1:  # the fingerprint makes a resumed county of another version rerun
        raise ProvinceRunError("", "workers", "one gridsim version and lock for every county, "
                               f"got {versions.to_dict('records')}")  # fmt: skip
    manifest = {
        **provenance(),
        "province": province.settings.model_dump(),
        "rules": province.rules.model_dump(),
        "source": str(province.source),
        "template": str(province.template),
        "counties": len(tasks),
        "days": tasks[0].days if tasks else None,
        "tables": list(tasks[0].tables) if tasks else [],
        "executor": getattr(executor, "name", type(executor).__name__),
        "workers": getattr(executor, "workers", None),
        "computed": computed,
        "wall_s": round(time.perf_counter() - start, 3),
    }
    with fs.open(f"{root}/counties.parquet", "wb") as f:
        counties.to_parquet(f, index=False, compression="zstd")
    with fs.open(f"{root}/province.json", "w") as f:
        f.write(json.dumps(manifest, indent=1, ensure_ascii=False, default=str) + "\n")
    for name, table in (("counties.csv", counties), ("summary.csv", summary)):
        if local:
            write_csv(table, Path(root) / name)
        else:
            with fs.open(f"{root}/{name}", "w") as f:
                table.to_csv(f, index=False)
    log.info("province %s: %d counties, %d computed", province.settings.name, len(tasks), computed)
