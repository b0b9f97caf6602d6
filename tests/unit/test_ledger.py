"""The ledger of acknowledged writes (workbench/model/database/ledger.py): data at risk, what one copy
lacks, and lost writes with their cause, on hand-made copies."""

from __future__ import annotations

from types import SimpleNamespace

from workbench.model.database.ledger import WriteLedger
from workbench.model.recording.recorder import Recorder


def _doc(*cv: int) -> SimpleNamespace:
    return SimpleNamespace(cv=cv)


def _ledger(clock: list[float]) -> tuple[WriteLedger, Recorder]:
    recorder = Recorder(["A", "B"], [], "db")
    return WriteLedger(lambda: clock[0], recorder), recorder


def test_a_write_is_held_directly_or_through_a_later_version_that_includes_it() -> None:
    clock = [1.0]
    ledger, _ = _ledger(clock)
    ledger.acknowledged(key=7, pos=0, etag=3, write_id=100)  # A's third write, on key 7
    clock[0] = 2.0
    ledger.acknowledged(key=8, pos=1, etag=1, write_id=101)  # B's first write, on key 8
    clock[0] = 5.0
    held_by_later = {7: _doc(4, 0)}  # a later version of key 7: its vector covers A's etag 3
    assert ledger.unheld([held_by_later]) == [1]
    assert ledger.at_risk([held_by_later]) == (1, 3.0)  # the oldest unheld write is 3 s old
    assert ledger.at_risk([held_by_later, {8: _doc(0, 1)}]) == (0, 0.0)
    assert ledger.missing({7: _doc(2, 0)}) == 2 and ledger.missing(None) == 2


def test_lost_writes_are_recorded_with_their_cause() -> None:
    ledger, recorder = _ledger([0.0])
    ledger.acknowledged(key=1, pos=0, etag=1, write_id=10)
    ledger.acknowledged(key=2, pos=0, etag=2, write_id=11)
    ledger.acknowledged(key=3, pos=0, etag=3, write_id=12)
    ledger.resolution_losers[(10, 1)] = "latest"
    ledger.resolution_losers[(12, 3)] = "latest"
    ledger.superseded_by_cluster_tx.add((12, 3))  # a cluster transaction applied over it: not lost
    copies = [{1: _doc(1), 3: _doc(3)}]  # key 2's write is on no copy
    assert ledger.record_losses(copies) == 2
    events = recorder.tables()["events"]
    lost = events[events["kind"] == "write_lost"]
    assert list(zip(lost["write"], lost["reason"], strict=True)) == [
        (10, "conflict resolution"),
        (11, "no copy holds it"),
    ]
    assert events[events["kind"] == "writes_lost"]["count"].tolist() == [2]
