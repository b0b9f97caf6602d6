"""The documents a run works on (issue 22, item 1: facts split out of the builder).

Keys are numbered ``0 .. keys-1``; collections are contiguous key ranges in the order the
scenario lists them, and the conflict solver is configured per collection. These are fixed for
the run, so every component that needs them is handed the one :class:`Keyspace` the builder
makes, instead of reading them through the builder.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from workbench.scenario.schema import DatabaseSpec, Scenario


@dataclass(frozen=True)
class Keyspace:
    """Document keys, collections, sizes and the per-collection conflict solver of one database."""

    keys: int
    transaction_documents: int  # documents a multi-document transaction writes
    initial_size: float  # bytes of a document no write has touched yet
    query_response_size: float  # bytes of a query's answer
    collection_names: tuple[str, ...]
    collection_bounds: tuple[int, ...]  # exclusive upper key of each collection
    resolve_to_latest: bool  # the conflict solver's default when a collection has no script
    script_costs: tuple[float | None, ...]  # resolver script run time per collection (None: no script)
    has_scripts: bool  # any collection resolves conflicts with a script

    @classmethod
    def from_scenario(cls, scenario: Scenario, database: DatabaseSpec | None = None) -> Keyspace:
        """The keyspace of the scenario's workload and ``database`` (default: the first): its
        own number of documents if it sets one, the workload's collections in proportion."""
        wl = scenario.workload
        db = database if database is not None else scenario.blueprint.database
        keys = db.keys if db.keys is not None else wl.keys
        bounds, acc = [], 0.0
        for share in wl.collections.values():
            acc += share
            bounds.append(round(acc * keys))
        bounds[-1] = keys
        solver = db.conflicts
        size = wl.document_size.mean()
        names = tuple(wl.collections)
        return cls(
            keys=keys,
            transaction_documents=wl.transaction_documents,
            initial_size=size,
            query_response_size=wl.query_results * size,
            collection_names=names,
            collection_bounds=tuple(bounds),
            resolve_to_latest=solver.resolve_to_latest,
            script_costs=tuple(solver.scripts.get(name) for name in names),
            has_scripts=bool(solver.scripts),
        )

    def transaction_keys(self, first: int) -> list[int]:
        """A multi-document transaction writes consecutive keys (an order and its lines)."""
        return [(first + i) % self.keys for i in range(self.transaction_documents)]

    def collection_keys(self, name: str) -> range:
        """The keys of collection ``name`` (a contiguous range)."""
        k = self.collection_names.index(name)
        return range(self.collection_bounds[k - 1] if k else 0, self.collection_bounds[k])

    def collection_of(self, key: int) -> str:
        """The collection that document ``key`` belongs to."""
        return self.collection_names[bisect_right(self.collection_bounds, key)]

    def script_cost(self, key: int) -> float | None:
        """Run time of the conflict resolver script of the key's collection (None: no script)."""
        if not self.has_scripts:
            return None
        return self.script_costs[bisect_right(self.collection_bounds, key)]
