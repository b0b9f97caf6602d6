"""The applications: RavenDB's RequestExecutor as each client runs it (client.py) and the arrival
processes that drive the clients (workload.py).

May import: ``model.kernel``, ``recording``, ``database``, ``cluster``; ``scenario`` and below.
"""
