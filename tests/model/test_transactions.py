"""Multi-document transactions: one SaveChanges, and never split by replication [spec §3.3]."""

from __future__ import annotations

from workbench import run


def _run(make_scenario, max_batch_items: int):
    return run(
        make_scenario(
            duration="6 s",
            blueprint={"replication": {"max_batch_items": max_batch_items}},
            workload={
                "rate": 200,
                "keys": 100_000,
                "mix": {"read": 0.5, "write": 0.2, "transaction": 0.3},
                "transaction_documents": 3,
            },
        )
    )


def test_documents_of_one_transaction_arrive_in_one_batch(make_scenario):
    """A batch holds at most 2 items here, yet each 3-document transaction lands on each
    destination at one instant: the batch was extended to the end of the transaction."""
    result = _run(make_scenario, max_batch_items=2)
    ops, repl = result.ops, result.replication
    tx_ids = set(ops.loc[(ops["kind"] == "transaction") & (ops["outcome"] == "ok"), "version"])
    assert len(tx_ids) > 100
    tx = repl[repl["write_id"].isin(tx_ids)]
    per_destination = tx.groupby(["write_id", "destination"])
    assert (per_destination["key"].nunique() == 3).all()
    assert (per_destination["applied_s"].nunique() == 1).all()
    summary = result.summary()
    assert summary["availability"]["transaction"] == 1.0 and summary["lost_writes"] == 0


def test_a_transaction_writes_every_document_and_acknowledges_them(make_scenario):
    result = _run(make_scenario, max_batch_items=16384)
    ops = result.ops
    tx = ops[(ops["kind"] == "transaction") & (ops["outcome"] == "ok")]
    write = ops[(ops["kind"] == "write") & (ops["outcome"] == "ok")]
    # Three documents cost three writes of CPU but one fsync: slower than one write, far less than three.
    assert write["latency_ms"].mean() < tx["latency_ms"].mean() < 3 * write["latency_ms"].mean()
    repl = result.replication
    keys = repl[repl["write_id"].isin(set(tx["version"]))].groupby("write_id")["key"].agg(lambda k: sorted(set(k)))
    first = tx.set_index("version")["key"]
    for write_id, replicated in keys.items():
        start = int(first[write_id])
        assert replicated == sorted({start % 100_000, (start + 1) % 100_000, (start + 2) % 100_000})
