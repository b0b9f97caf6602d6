"""Ongoing tasks of a database group [spec §5]: SQL ETL, periodic backups and data
subscriptions (a discriminated union on ``kind``), and the external systems a task writes to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from workbench.scenario.spec.base import NodeTag, Strict
from workbench.scenario.types import Bandwidth, Duration, DurationDist, Size


class EtlBatchLimits(Strict):
    """What one ETL batch may extract [spec §5.2, D-etl]."""

    max_documents: int = Field(8192, ge=1, description="ETL.MaxNumberOfExtractedDocuments")
    max_size: Size = Field("64 MB", description="ETL.MaxBatchSizeInMb")
    extract_timeout: Duration = Field("30 s", description="ETL.ExtractAndTransformTimeoutInSec")


class _TaskBase(Strict):
    name: str = Field(min_length=1)
    mentor: NodeTag | None = Field(
        None, description="MentorNode: the preferred responsible node while it is a member (a 'sticky' task)"
    )


class _EtlSettings(Strict):
    """What every ETL task has [spec §5.2]: what it extracts, the transform's cost, the batch
    limits and the fallback schedule."""

    collections: tuple[str, ...] | None = Field(None, description="Collections extracted (default: all)")
    transform_cost: DurationDist = Field(
        "50 us", description="CPU time of the transform script per document (an engineering estimate)"
    )
    batch: EtlBatchLimits = EtlBatchLimits()
    fallback_initial: Duration = Field("5 s", ge=0.001, description="First retry after the destination fails")
    fallback_max: Duration = Field("900 s", description="ETL.MaxFallbackTimeInSec")


class SqlEtlTask(_TaskBase, _EtlSettings):
    """SQL ETL [spec §5.2]: push the collections' documents to a relational database.

    An update is a DELETE + INSERT in one destination transaction, so a batch sent twice
    leaves one row per document. An unreachable destination puts the task in fallback
    mode (retry after 5 s, doubling per consecutive error up to 900 s); it resumes where
    it left off. A document the destination rejects raises an alert and is skipped."""

    kind: Literal["sql_etl"]
    destination: str = Field(description="The name of an external system in blueprint.externals")
    reject_probability: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of documents the destination rejects (bad row): alert and skip"
    )


class BackupTask(_TaskBase):
    """A periodic backup [spec §5.5]: the schedule is cluster-wide, the responsible node
    runs it; incrementals chain only onto the same node's full backup, so a new owner
    starts with a full one unless its own last full is still within schedule."""

    kind: Literal["backup"]
    full_every: Duration = Field("24 h", ge=1.0, description="Period of full backups")
    incremental_every: Duration | None = Field("4 h", ge=1.0, description="Period of incremental backups (none: off)")
    first_at: Duration = Field("0 s", description="Time of the first (full) backup from the start of the run")
    backup_type: Literal["logical", "snapshot"] = Field(
        "logical", description="logical (JSON; restore re-indexes) or snapshot (binary, fast restore)"
    )
    write_rate: Bandwidth = Field(
        "200 MB/s", description="Rate a backup is written at (an engineering estimate for a cloud volume)"
    )
    restore_rate: Bandwidth = Field(
        "400 MB/s",
        description="Rate of each restore phase, copy then import: 250 GB takes >= 20 min [spec §5.5]",
    )


class SubscriptionTask(_TaskBase):
    """A data subscription [spec §4.4, §5.6]: worker clients hold a connection to the
    responsible node and process batches at least once."""

    kind: Literal["subscription"]
    collections: tuple[str, ...] | None = Field(None, description="Collections the subscription covers")
    workers: int = Field(1, ge=1, description="Worker clients competing for the subscription")
    strategy: Literal["OpenIfFree", "TakeOver", "WaitForFree"] = Field(
        "OpenIfFree",
        description="OpenIfFree: refused while another worker holds it; TakeOver: evicts the holder (a second "
        "TakeOver loses); WaitForFree: retries every `retry` (a hot standby)",
    )
    worker_strategies: tuple[Literal["OpenIfFree", "TakeOver", "WaitForFree"], ...] | None = Field(
        None, description="A strategy per worker, in order (cycled), instead of `strategy`"
    )
    start_spacing: Duration = Field(
        "1 s", description="Worker k first connects k x this after the start (an assumption: a fixed start order)"
    )
    max_docs_per_batch: int = Field(4096, ge=1, description="MaxDocsPerBatch")
    retry: Duration = Field("5 s", description="TimeToWaitBeforeConnectionRetry")
    max_erroneous_period: Duration = Field("5 min", description="MaxErroneousPeriod")
    processing_cost: DurationDist = Field("1 ms", description="The worker's time per document")


OngoingTask = Annotated[SqlEtlTask | BackupTask | SubscriptionTask, Field(discriminator="kind")]


class ExternalSystem(Strict):
    """A system outside the cluster that a task writes to: a relational database for SQL
    ETL. It has its own latency (from where it is placed), throughput and outages (the
    fault plan's ``external_down``)."""

    name: str = Field(min_length=1)
    kind: Literal["sql"] = "sql"
    datacenter: str | None = Field(None, description="Where it runs (default: the first data centre)")
    zone: str | None = None
    row_cost: DurationDist = Field(
        "0.2 ms", description="Time to apply one row (DELETE + INSERT, indexed id column; an estimate)"
    )
    commit_cost: DurationDist = Field("5 ms", description="Time to commit one batch's transaction (an estimate)")
