"""The workbench: simulate distributed RavenDB deployments before you build them.

Typical use from a notebook::

    from workbench import load_scenario, run
    result = run(load_scenario("scenarios/quickstart.yaml", {"workload.rate": 2000}))
    result.summary()
"""

__version__ = "0.1.0"

from workbench.errors import WorkbenchInputError  # noqa: E402
from workbench.experiment import run  # noqa: E402
from workbench.results import RunResult  # noqa: E402
from workbench.scenario import load_scenario, scenario_from_dict  # noqa: E402

__all__ = ["RunResult", "WorkbenchInputError", "__version__", "load_scenario", "run", "scenario_from_dict"]
