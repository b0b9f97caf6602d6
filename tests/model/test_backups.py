"""Periodic backups [spec §5.5, §5.1, §1.8, §8.11]: the cluster-wide schedule, the
responsible node, full versus incremental, backups with no leader and in a partition,
a crash mid-backup, and the RPO and restore-time figures derived from them.

The group is A, B, C with B first (the preferred node), so the backup, a
resource-intensive task, avoids B; the task name ``nightly-backup`` hashes to C over
[A, C], and to A once C is in rehab: C is the owner, A takes over."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from workbench import run, scenario_from_dict
from workbench.analysis.backups import backup_summary, backup_table, restore_seconds, rpo_at
from workbench.model.assembly.world import World

H = 3600.0
TASK = "nightly-backup"


def _scenario(faults: tuple = (), duration: str = "24 h", keys: int = 100_000, **task):
    return scenario_from_dict(
        {
            "name": "backups",
            "seed": 1,
            "duration": duration,
            "sample_interval": "10 min",
            "blueprint": {
                "extends": "three-node",
                "database": {
                    "members": ["B", "A", "C"],
                    "tasks": [
                        {"kind": "backup", "name": TASK, "full_every": "24 h", "incremental_every": "4 h", **task}
                    ],
                },
            },
            "clients": {"count": 1},
            "workload": {"rate": 0.05, "mix": {"read": 0.5, "write": 0.5}, "keys": keys},
            "faults": [dict(f) for f in faults],
        }
    )


@cache
def _run(faults: tuple = (), duration: str = "24 h", keys: int = 100_000):
    result = run(_scenario(tuple(dict(f) for f in faults), duration, keys))
    assert result.ok, result.provenance.get("exception")
    return result


def _fault(**kw) -> tuple:
    return tuple(sorted(kw.items()))


def _done(result) -> list[tuple[str, str, float]]:
    table = backup_table(result)
    done = table[table["status"] == "done"]
    return list(zip(done["node"], done["type"], done["started_s"], strict=True))


def _events(result, kind: str):
    return result.events[result.events["kind"] == kind]


HANDOFF = (_fault(action="crash", node="C", at="12 h", duration="6 h"),)


def test_backup_handoff_timeline():
    """Spec §8.11, event by event: C full 00:00, incrementals 04:00 and 08:00; C down at
    12:00, A owner after the rehab grace takes a FULL backup; A incremental 16:00; C back
    at 18:00, caught up, owner again; C incremental at 20:00 covering everything since 08:00."""
    result = _run(HANDOFF)
    done = _done(result)
    assert [(node, kind) for node, kind, _ in done] == [
        ("C", "full"),
        ("C", "incremental"),
        ("C", "incremental"),
        ("A", "full"),
        ("A", "incremental"),
        ("C", "incremental"),
    ]
    times = [t for _, _, t in done]
    assert times[:3] == [0.0, 4 * H, 8 * H]
    # The 12:00 backup was due with nobody owning the task: A makes it when it takes over,
    # ~60 s later (move-to-rehab grace + observer tick + Raft).
    assert 12 * H + 55 < times[3] < 12 * H + 120
    assert times[4:] == [16 * H, 20 * H]
    table = backup_table(result)
    last = table[table["status"] == "done"].iloc[-1]
    assert last["since_s"] == 8 * H  # chained onto C's own 08:00 backup, not A's
    # ... so it holds twelve hours of changes, about three times a four-hour incremental.
    c_incs = table[(table["node"] == "C") & (table["type"] == "incremental")]["bytes"]
    assert c_incs.iloc[-1] > 2 * c_incs.iloc[:-1].max()
    assert table[(table["node"] == "A") & (table["type"] == "incremental")]["since_s"].iloc[0] == times[3]
    # Ownership: C, then A after C went to rehab, back to C once it was promoted.
    moved = _events(result, "task_moved")
    assert moved["detail"].iloc[0] == f"{TASK} from C to A" and 12 * H + 55 < moved["time_s"].iloc[0] < 12 * H + 120
    promoted = _events(result, "promoted")
    assert promoted["detail"].str.startswith("C ").any()
    back = promoted[promoted["detail"].str.startswith("C ")]["time_s"].iloc[0]
    assert 18 * H < back < 20 * H
    # A hand-over, not a pause: C takes the task back the moment it applies its promotion
    # (the only pause is C's crash, not A handing the task back).
    assert moved["detail"].iloc[-1] == f"{TASK} from A to C" and back <= moved["time_s"].iloc[-1] < back + 1
    paused = _events(result, "task_paused")
    assert list(paused["node"]) == ["C"] and paused["time_s"].iloc[0] == 12 * H
    # Nothing runs on the preferred node, and no backup failed.
    assert "B" not in set(_events(result, "backup_started")["node"])
    assert _events(result, "backup_failed").empty


def test_backup_summary_rpo_and_restore_are_sane():
    result = _run(HANDOFF)
    summary = backup_summary(result)
    assert summary["completed"] == 6 and summary["full"] == 2 and summary["incremental"] == 4
    assert summary["by_node"] == {"A": {"full": 1, "incremental": 1}, "C": {"full": 1, "incremental": 3}}
    assert summary["failed"] == 0
    # Worst age of the newest backup: just before A's full completes (C's 08:00 one is newest).
    a_full = backup_table(result).iloc[3]
    assert summary["worst_rpo_s"] == pytest.approx(a_full["done_s"] - 8 * H)
    # The writes it would miss: every write acknowledged since 08:00 (C held all before).
    ops = result.ops
    acked = ops[(ops["outcome"] == "ok") & ops["kind"].isin(["write", "transaction", "cluster_tx"])]
    since_8 = acked[(acked["end_s"] > 8 * H) & (acked["end_s"] <= a_full["done_s"])]
    assert summary["worst_rpo_writes"] == len(since_8) > 100
    end = summary["rpo_at_end"]
    assert end["node"] == "C" and end["age_s"] == pytest.approx(4 * H)
    assert end["writes_missed"] == int((acked["end_s"] > 20 * H).sum())
    # A loss at 10:00 is restored from 08:00; before the first backup nothing can be.
    at10 = rpo_at(result, 10 * H)
    assert at10["backup_state_s"] == 8 * H and at10["age_s"] == pytest.approx(2 * H)
    assert rpo_at(result, 0.0)["writes_missed"] is None
    # Restore of the newest (C, 20:00): C's full and its three incrementals, copy + import.
    restore = summary["restore"]
    table = backup_table(result)
    chain = table[table["node"] == "C"]
    assert restore["node"] == "C" and restore["files"] == 4
    assert restore["bytes"] == pytest.approx(chain["bytes"].sum())
    assert restore["total_s"] == pytest.approx(2 * restore["bytes"] / 400e6)
    # A full backup is the copy's size; an incremental only the changed documents.
    fulls, incs = table[table["type"] == "full"], table[table["type"] == "incremental"]
    assert fulls["bytes"].min() > 5 * incs["bytes"].max()


def test_restore_of_250_gb_takes_at_least_20_minutes():
    copy_s, import_s = restore_seconds(250e9)  # defaults: 400 MB/s per phase
    assert copy_s == import_s and 20 * 60 <= copy_s + import_s < 25 * 60


def test_backups_continue_without_a_leader():
    """Spec §1.8: with A and B down the cluster has no leader, but C keeps its backups."""
    down = tuple(_fault(action="crash", node=n, at="10 h", duration="8 h") for n in ("A", "B"))
    result = _run(down)
    assert _done(result) == [
        ("C", "full", 0.0),
        ("C", "incremental", 4 * H),
        ("C", "incremental", 8 * H),
        ("C", "incremental", 12 * H),
        ("C", "incremental", 16 * H),
        ("C", "incremental", 20 * H),
    ]
    # No leader between 10:00 and 18:00: the first election after the crash is after the restart.
    elected = _events(result, "leader_elected")
    assert not ((elected["time_s"] > 10 * H) & (elected["time_s"] < 18 * H)).any()
    assert _events(result, "task_paused").empty  # the backup never stopped


def test_without_a_leader_the_backup_status_is_not_reported():
    """C's 12:00 and 16:00 backups exist in C's folder but never reach the cluster's status."""
    down = [{"action": "crash", "node": n, "at": "10 h", "duration": "8 h"} for n in ("A", "B")]
    world = World(_scenario(tuple(down), duration="17 h"))
    world.run()
    task = world.tasks.tasks[0]
    c = world.node_by_tag["C"].index
    assert [r.captured for r in task.folders[c]] == [0.0, 4 * H, 8 * H, 12 * H, 16 * H]
    assert task.persisted(c)["C"]["captured"] == 8 * H


def test_partition_both_owners_back_up():
    """Spec §5.5, §8.11: C is cut off at 11:00 (keeps its backups with no leader), A owns
    the task on the majority side; at 12:00 both back up, each into its own folder."""
    result = _run((_fault(action="partition", groups=(("C",), ("A", "B")), at="11 h", duration="2 h"),))
    table = backup_table(result)
    noon = table[table["started_s"] == 12 * H].set_index("node")
    assert set(noon.index) == {"A", "C"} and (noon["status"] == "done").all()
    assert noon.loc["A", "type"] == "full" and noon.loc["C", "type"] == "incremental"
    # C's copy missed the writes made on the majority side since 11:00; A's did not.
    assert noon.loc["C", "missing_writes"] > 0 and noon.loc["A", "missing_writes"] == 0
    # A took over at ~11:01 but a change of owner does not trigger a backup by itself.
    started = _events(result, "backup_started")["time_s"]
    assert not ((started > 8 * H) & (started < 12 * H)).any()
    assert rpo_at(result, 13 * H)["node"] == "A"  # a restore uses the complete one


def test_crash_mid_backup_fails_and_the_new_owner_makes_it():
    """A 123 GB full backup takes ~10 min at 200 MB/s; C crashes 5 min in: the backup
    fails and is not counted, and A makes the owed backup as soon as it takes over."""
    result = _run((_fault(action="crash", node="C", at="5 min", duration="10 min"),), "2 h", 50_000_000)
    table = backup_table(result)
    assert list(zip(table["node"], table["type"], table["status"], strict=True)) == [
        ("C", "full", "failed"),
        ("A", "full", "done"),
    ]
    failed = _events(result, "backup_failed")
    assert list(failed["time_s"]) == [300.0] and "its node crashed" in failed["detail"].iloc[0]
    a = table.iloc[1]
    assert 355 < a["started_s"] < 420
    assert a["duration_s"] == pytest.approx(a["bytes"] / 200e6) and 500 < a["duration_s"] < 700
    summary = backup_summary(result)
    assert summary["completed"] == 1 and summary["failed"] == 1 and summary["by_node"] == {"A": {"full": 1}}
    assert summary["restore"]["total_s"] == pytest.approx(2 * a["bytes"] / 400e6)


def test_a_schedule_of_full_backups_only():
    result = run(_scenario(duration="14 h", full_every="6 h", incremental_every=None, first_at="1 h"))
    assert _done(result) == [("C", "full", 1 * H), ("C", "full", 7 * H), ("C", "full", 13 * H)]
    assert np.isnan(backup_table(result)["since_s"]).all()
