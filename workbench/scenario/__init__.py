"""Scenario files: schema, loading, blueprint resolution, overrides and units.

May import: ``blueprints``, ``errors``, ``version``; never the model or above.
"""

from workbench.scenario.load import load_scenario, recorded_scenario, scenario_from_dict
from workbench.scenario.schema import Blueprint, Scenario

__all__ = ["Blueprint", "Scenario", "load_scenario", "recorded_scenario", "scenario_from_dict"]
