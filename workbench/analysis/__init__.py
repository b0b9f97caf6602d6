"""Pure functions over a run's tables and typed scenario: the summary, per-fault RTO/RPO,
backups, ETL, subscriptions, deployments, staleness and capacity. No SimPy here.

They take a :class:`~workbench.results.RunResult` (reading its tables and ``result.spec``, the
typed scenario) or its tables as DataFrames, and return plain dicts and DataFrames; the
summary's schema is :mod:`workbench.results.summary`. This layer may import the results and
everything below them (scenario, model), never charts, reports, the UI or the CLI.

May import: ``results``, ``model`` (its table schemas only), ``scenario``, ``blueprints``,
``errors``, ``version``; never charts, reports, the UI or the CLI.
"""

from __future__ import annotations

from workbench.scenario.schema import Deployment, OngoingTask, Scenario


def database_tasks(spec: Scenario) -> tuple[OngoingTask, ...]:
    """The ongoing tasks (SQL ETL, backups, subscriptions) of a run's cluster, every database's;
    none for a deployment of several clusters, whose clusters each have their own
    (``cluster_view``)."""
    if isinstance(spec.blueprint, Deployment):
        return ()
    return tuple(task for db in spec.blueprint.all_databases() for task in db.tasks)
