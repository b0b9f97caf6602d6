"""Ongoing tasks: the registry and who runs a task (tasks.py), SQL ETL, backups, subscriptions, the
ETL destinations, and the tasks that join the clusters of a deployment (cross_cluster.py).

May import: ``model.kernel``, ``recording``, ``database``, ``cluster``, ``clients``;
``scenario`` and below.
"""
