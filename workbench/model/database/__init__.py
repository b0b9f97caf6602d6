"""The simulated database: a copy on one node with its documents, change vectors and replication
channels (database.py), the group of copies kept in step with the topology (group.py), the
keyspace, the version counters, and the ledger of acknowledged writes.

May import: ``model.kernel``, ``model.recording``; ``scenario`` and below.
"""
