"""The parts of the scenario schema, one concern a module: the pydantic models that
:mod:`workbench.scenario.schema` puts together into a ``Scenario`` (and re-exports: import
them from there).

- ``base``: ``Strict``, the base of every model (unknown keys are errors, frozen, finite
  numbers, no yes/no for a number), and ``NodeTag``;
- ``cluster``: a blueprint: data centres, nodes, hardware, network, the database group and
  its conflict resolution, replication, Raft and the cluster observer;
- ``tasks``: ongoing tasks (SQL ETL, backups, subscriptions) and the external systems they
  write to;
- ``deployment``: several clusters on one network, and the links between them (external
  replication, hub/sink, RavenDB ETL);
- ``clients``: the application servers (RequestExecutor, health checks, write assurance);
- ``workload``: arrivals, the operation mix and key popularity;
- ``faults``: the fault plan's actions, their triggers and the failure processes.

May import: ``scenario.types``, ``scenario.units``, ``scenario.distributions``, ``errors``;
never the rest of ``scenario``.
"""
