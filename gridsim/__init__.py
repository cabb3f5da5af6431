"""gridsim: discrete-event simulation of grid-based grassroots governance (网格化治理).

The public API is small: load a scenario, simulate it, run experiments.

Example:
    >>> import gridsim
    >>> scenario = gridsim.load_scenario("scenarios/one_town.toml")
    >>> result = gridsim.simulate(scenario, seed=1, days=7)
    >>> result.kpis["appeals"] > 0
    True
"""

from importlib.metadata import PackageNotFoundError, version

from gridsim.engine import simulate
from gridsim.experiment import load_experiment, run_experiment
from gridsim.report import write_report
from gridsim.results import RunResult, load_run, save_run
from gridsim.scenario import Scenario, ScenarioError, load_scenario

try:
    __version__ = version("gridsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_experiment",
    "load_run",
    "load_scenario",
    "run_experiment",
    "save_run",
    "simulate",
    "write_report",
]
