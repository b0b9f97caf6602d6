"""The responsible node of an ongoing task [spec §5.1]."""

from __future__ import annotations

from collections import Counter

from workbench.model.cluster.rachis import CANDIDATE, FOLLOWER, LEADER, DbTopology
from workbench.model.tasks.tasks import jump_hash, task_key, whose_task_is_it


def test_jump_hash_moves_a_key_only_to_the_new_bucket() -> None:
    """Consistency: growing from n to n + 1 buckets moves a key only into bucket n."""
    keys = [task_key(f"task-{i}") for i in range(2000)]
    for n in range(1, 12):
        for key in keys:
            before, after = jump_hash(key, n), jump_hash(key, n + 1)
            assert 0 <= before < n
            assert after in (before, n)


def test_jump_hash_spreads_keys_evenly() -> None:
    counts = Counter(jump_hash(task_key(f"etl-{i}"), 5) for i in range(5000))
    assert set(counts) == set(range(5))
    assert max(counts.values()) < 1.15 * 1000 and min(counts.values()) > 0.85 * 1000


def test_tasks_run_only_on_members_and_spread_over_them() -> None:
    topo = DbTopology([0, 1, 2], 3, rehabs=[3], promotables=[4])
    owners = Counter(whose_task_is_it(FOLLOWER, topo, task_key(f"t{i}")) for i in range(3000))
    assert set(owners) == {0, 1, 2}
    assert min(owners.values()) > 700


def test_a_candidate_runs_nothing_and_a_member_mentor_wins() -> None:
    topo = DbTopology([0, 1, 2], 3)
    key = task_key("orders-etl")
    assert whose_task_is_it(CANDIDATE, topo, key) is None
    assert whose_task_is_it(LEADER, topo, key, mentor=2) == 2
    # A mentor that is not a member does not hold the task.
    rehab = DbTopology([0, 1], 3, rehabs=[2])
    assert whose_task_is_it(FOLLOWER, rehab, key, mentor=2) in (0, 1)


def test_a_backup_avoids_the_preferred_node() -> None:
    topo = DbTopology([1, 0, 2], 3)
    owners = {whose_task_is_it(FOLLOWER, topo, task_key(f"b{i}"), resource_intensive=True) for i in range(200)}
    assert owners == {0, 2}
    alone = DbTopology([1], 3, rehabs=[0, 2])
    assert whose_task_is_it(FOLLOWER, alone, task_key("b"), resource_intensive=True) == 1


def test_the_owner_moves_only_when_the_topology_changes() -> None:
    key = task_key("orders-etl")
    topo = DbTopology([0, 1, 2], 3)
    owner = whose_task_is_it(FOLLOWER, topo, key)
    same = DbTopology([0, 1, 2], 3)
    assert whose_task_is_it(FOLLOWER, same, key) == owner
    members = [m for m in (0, 1, 2) if m != owner]
    moved = DbTopology(members, 3, rehabs=[owner])
    new_owner = whose_task_is_it(FOLLOWER, moved, key)
    assert new_owner in members
    # Back as a member: the task returns to it (the hash over the same group).
    assert whose_task_is_it(FOLLOWER, DbTopology([*members, owner], 3), key) == owner
