"""The cluster: RavenDB servers (node.py), Raft as Rachis runs it (rachis.py) and the cluster
observer (observer.py).

May import: ``model.kernel``, ``recording``, ``database``; ``scenario`` and below.
"""
