"""Staleness from the ``ops`` table: the t-visibility curve (pure functions).

For every successful read of a key that some client had written (and seen
acknowledged) before the read started, ``t`` is the time from that latest
acknowledgement to the read's start; the read is consistent if it returned that
write or a newer one (``stale`` is False). The curve gives, per bin of ``t``, the
probability of a consistent read, as in the PBS paper (Bailis et al., VLDB 2012).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def t_visibility(ops: pd.DataFrame, edges_ms: list[float] | np.ndarray) -> pd.DataFrame:
    """P(consistent read) per bin of time since the latest acknowledged write of the key."""
    ok = ops[ops["outcome"] == "ok"]
    writes = ok[ok["kind"] == "write"][["key", "end_s"]].rename(columns={"end_s": "acked_s"})
    reads = ok[ok["kind"] == "read"][["key", "start_s", "stale"]]
    if writes.empty or reads.empty:
        return pd.DataFrame(columns=["t_ms", "reads", "p_consistent"])
    writes = writes.sort_values("acked_s")
    reads = reads.sort_values("start_s")
    joined = pd.merge_asof(
        reads, writes, left_on="start_s", right_on="acked_s", by="key", direction="backward", allow_exact_matches=False
    ).dropna(subset=["acked_s"])
    t_ms = (joined["start_s"] - joined["acked_s"]) * 1e3
    bins = pd.cut(t_ms, bins=np.asarray(edges_ms, dtype=float), right=False)
    table = (
        joined.assign(consistent=~joined["stale"].astype(bool), bin=bins)
        .groupby("bin", observed=False)["consistent"]
        .agg(["size", "mean"])
        .rename(columns={"size": "reads", "mean": "p_consistent"})
    )
    edges = np.asarray(edges_ms, dtype=float)
    table.insert(0, "t_ms", (edges[:-1] + edges[1:]) / 2)
    return table.reset_index(drop=True)
