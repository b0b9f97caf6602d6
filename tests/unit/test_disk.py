"""The disk: fsyncs shared by the writes that wait for them, and bulk reads that take turns
with them (a mentor reading its copy to seed a new one; issue 20, part 7)."""

from __future__ import annotations

import pytest

from workbench.model.cluster.node import Disk
from workbench.model.kernel.environment import Environment


def _disk(fsync: float = 0.001) -> tuple[Environment, Disk, list]:
    env = Environment()
    return env, Disk(env, lambda: fsync, 1024), []


def test_a_read_holds_the_disk_and_the_writes_behind_it_wait() -> None:
    env, disk, log = _disk()
    disk.read(0.008, lambda tag: log.append((tag, env.now)), "read")
    disk.write(lambda tag: log.append((tag, env.now)), "write")
    env.run()
    assert log == [("read", 0.008), ("write", pytest.approx(0.009))]
    assert disk.busy_s == pytest.approx(0.009) and disk.fsyncs == 1


def test_a_waiting_read_goes_before_the_next_fsync_so_writes_cannot_starve_it() -> None:
    env, disk, log = _disk()
    disk.write(lambda tag: log.append((tag, env.now)), "w1")  # the fsync in progress
    disk.read(0.004, lambda tag: log.append((tag, env.now)), "read")
    disk.write(lambda tag: log.append((tag, env.now)), "w2")  # waits for the next fsync
    env.run()
    assert [tag for tag, _ in log] == ["w1", "read", "w2"]
    assert log[-1][1] == pytest.approx(0.006)


def test_a_crash_drops_the_reads_in_progress_and_waiting() -> None:
    env, disk, log = _disk()
    disk.read(0.01, log.append, "r1")
    disk.read(0.01, log.append, "r2")
    env.run(until=0.005)
    disk.reset()
    env.run()
    assert log == [] and not disk.busy


def test_each_journal_has_its_own_fsyncs_and_the_journals_take_turns() -> None:
    """Voron: one outstanding write and one file sync per storage environment (the book, Ch16).
    Writes to two databases (and the server store's Rachis log) never share an fsync; a
    journal's writes that arrived meanwhile share its next one."""
    env, disk, log = _disk()
    done = lambda tag: log.append((tag, env.now))  # noqa: E731
    disk.write(done, "a1", 0)  # starts at once
    disk.write(done, "b1", 1)
    disk.write(done, "a2", 0)
    disk.write(done, "raft", -1)
    disk.write(done, "b2", 1)
    env.run()
    assert log == [
        ("a1", pytest.approx(0.001)),
        ("b1", pytest.approx(0.002)),  # b's turn came first: its first write arrived before a2
        ("b2", pytest.approx(0.002)),  # ... and b2 shares b's fsync
        ("a2", pytest.approx(0.003)),
        ("raft", pytest.approx(0.004)),
    ]
    assert disk.fsyncs == 4 and disk.writes == 5 and disk.waiting == 0


def test_one_journal_groups_every_write_that_waits() -> None:
    env, disk, log = _disk()
    for i in range(5):
        disk.write(lambda tag: log.append((tag, env.now)), i)
    env.run()
    assert disk.fsyncs == 2 and [t for _, t in log] == pytest.approx([0.001] + [0.002] * 4)
