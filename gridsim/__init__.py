"""gridsim: discrete-event simulation of grid-based grassroots governance (网格化治理).

The public API is small: load a scenario, change it, simulate it, run experiments.

Example:
    >>> import gridsim
    >>> scenario = gridsim.load_scenario("scenarios/one_town.toml")
    >>> result = gridsim.simulate(scenario, seed=1, days=7)
    >>> result.kpis["appeals"] > 0
    True
"""

from gridsim.experiment.loading import load_experiment
from gridsim.experiment.runner import run_experiment
from gridsim.model.loader import load_scenario, with_overrides
from gridsim.model.records import RunResult
from gridsim.model.scenario import Scenario, ScenarioError
from gridsim.model.simulate import simulate
from gridsim.output.report import write_report
from gridsim.output.run_dir import load_run, save_run
from gridsim.version import __version__

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
    "with_overrides",
    "write_report",
]
