"""The workbench: simulate distributed RavenDB deployments before you build them.

Typical use from a notebook::

    from workbench import load_scenario, run
    result = run(load_scenario("scenarios/quickstart.yaml", {"workload.rate": 2000}))
    result.summary()

May import: every layer (this is the top, with the CLI and the notebook helpers).
"""

# Installs summarise() as RunResult.summary(): the analysis layer is above the results, which
# cannot import it (workbench.results); every import of the package runs this first.
import workbench.analysis.summary  # noqa: F401
from workbench.errors import WorkbenchInputError
from workbench.experiment import run
from workbench.results import RunResult
from workbench.scenario import load_scenario, scenario_from_dict
from workbench.version import __version__

__all__ = ["RunResult", "WorkbenchInputError", "__version__", "load_scenario", "run", "scenario_from_dict"]
