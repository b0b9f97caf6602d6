"""Several databases on one cluster: each database's availability, overall and at the end."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.analysis.databases import database_table
from workbench.charts._common import PALETTE
from workbench.results import RunResult

# Databases drawn at most: the least available ones (a population of thousands stays readable).
MAX_DATABASES = 60


def database_availability_data(result: RunResult) -> pd.DataFrame:
    """One row per database and measure (``whole run``, ``at the end``): its availability,
    replication factor and members; the least available :data:`MAX_DATABASES` databases, in
    the cluster's order."""
    table = database_table(result)
    worst = table.sort_values(["availability_at_end", "availability"], kind="stable").head(MAX_DATABASES)
    kept = table[table["database"].isin(worst["database"])]
    long = kept.melt(
        id_vars=["database", "replication_factor", "members"],
        value_vars=["availability", "availability_at_end"],
        var_name="measure",
        value_name="value",
    )
    long["measure"] = long["measure"].map({"availability": "whole run", "availability_at_end": "at the end"})
    long["database"] = long["database"].astype(str)
    long["replication_factor"] = "RF " + long["replication_factor"].astype(str)
    return long


def database_availability(result: RunResult) -> alt.Chart:
    """Each database's share of operations that succeeded, over the whole run and in its last
    tenth (a database at 0 at the end was no longer served), coloured by replication factor."""
    data = database_availability_data(result)
    factors = sorted(data["replication_factor"].unique())
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("database:N", sort=None, title=None),
            x=alt.X("value:Q", title="operations that succeeded (share)", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "replication_factor:N",
                scale=alt.Scale(domain=factors, range=PALETTE[: len(factors)]),
                title="replication factor",
            ),
            column=alt.Column("measure:N", title=None, sort=["whole run", "at the end"]),
            tooltip=[
                "database:N",
                "replication_factor:N",
                "members:N",
                "measure:N",
                alt.Tooltip("value:Q", format=".4f", title="availability"),
            ],
        )
        .properties(width=300, height=alt.Step(14), title="Availability per database")
    )
