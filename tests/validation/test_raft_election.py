"""Validation: leader election against the Raft paper's Figure 16.

Ongaro & Ousterhout, USENIX ATC 2014, Figure 16 (150-300 ms curve; values read
from the plotted points of Ongaro's thesis figure, see
``workbench.validation.raft_election.PAPER_150_300_MS``): 5 servers, the leader
crashed within its heartbeat interval after a broadcast, 2 of 4 survivors
ineligible, 1000 trials.

The paper gives a "broadcast time of roughly 15 ms" = network round trip plus
a disk write. How those 15 ms split matters, because a vote waits for a disk
write but a heartbeat does not:

* all network (one-way 7.5 ms, no disk): the body of the model's distribution
  sits 15-25 ms (about 15 %) above the paper's. Detection happens one one-way
  latency after the broadcast and the new leader's heartbeat needs another, so
  30 ms of network is spent outside the election itself.
* 1 Gb Ethernet plus an SSD write (one-way 0.1 ms, 7.5 ms to persist a vote):
  the closer reading of the paper's hardware; every percentile from p10 to p90
  is then within 10 % of the paper.

Tails (p99, max) rest on a handful of split-vote trials out of 1000, so they are
checked loosely. The remaining gap in the body is consistent with the thesis'
own analytic model (expected downtime for two eligible servers is above the
measured median) and with LogCabin details not in the paper.
"""

from __future__ import annotations

import pytest

from workbench.validation.raft_election import (
    PAPER_150_300_MS,
    ElectionSetup,
    run_election_experiment,
    summarise_downtimes,
)

BODY = ("p10", "p25", "p50", "p75", "p90")


@pytest.fixture(scope="module")
def network_only():
    return summarise_downtimes(run_election_experiment(ElectionSetup(), trials=1000))


@pytest.fixture(scope="module")
def disk_on_the_vote_path():
    setup = ElectionSetup(one_way_latency=0.0001, fsync=0.0075)
    return summarise_downtimes(run_election_experiment(setup, trials=1000))


def _relative_gap(model: dict, key: str) -> float:
    return (model[key] - PAPER_150_300_MS[key]) / PAPER_150_300_MS[key]


@pytest.mark.parametrize("key", BODY)
def test_body_matches_the_paper_within_10_percent_with_disk_on_the_vote_path(disk_on_the_vote_path, key):
    gap = _relative_gap(disk_on_the_vote_path, key)
    assert abs(gap) <= 0.10, f"{key}: model {disk_on_the_vote_path[key]} ms vs paper {PAPER_150_300_MS[key]} ms"


@pytest.mark.parametrize("key", BODY)
def test_body_matches_the_paper_within_20_percent_with_network_only(network_only, key):
    gap = _relative_gap(network_only, key)
    assert -0.05 <= gap <= 0.20, f"{key}: model {network_only[key]} ms vs paper {PAPER_150_300_MS[key]} ms"


@pytest.mark.parametrize("result", ["network_only", "disk_on_the_vote_path"])
def test_tail_is_the_papers_split_vote_tail(result, request):
    model = request.getfixturevalue(result)
    assert abs(_relative_gap(model, "p99")) <= 0.25
    assert abs(_relative_gap(model, "max")) <= 0.35
    # The smallest possible downtime is about half the minimum timeout, plus the election.
    assert model["p10"] > 75


def test_downtime_grows_with_the_timeout_range():
    """Directional: a wider, later range gives longer elections (Figure 16, bottom)."""
    fast = summarise_downtimes(run_election_experiment(ElectionSetup(0.050, 0.100), trials=300))
    slow = summarise_downtimes(run_election_experiment(ElectionSetup(0.150, 0.300), trials=300))
    assert fast["p50"] < slow["p50"]


def test_the_validate_registry_check_passes():
    """``workbench validate raft-election`` applies the tolerances above to both setups."""
    from workbench.validation.checks import CHECKS

    rows = CHECKS["raft-election"].run(True)
    assert len(rows) == 14
    assert all(r["passed"] for r in rows), [r for r in rows if not r["passed"]]
