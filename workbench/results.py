"""The result of a run.

The model's :class:`~workbench.model.recorder.Recorder` fills columnar buffers while the
model runs and, at the end, builds the tables that :class:`RunResult` holds:

``ops``          one row per client operation
``events``       one row per cluster event (crashes, partitions, conflicts, ...), with a
                 column per field of its kind (``workbench.model.events``, docs/events.md)
``timeseries``   sampled state, long format: time, entity, metric, value
``replication``  one row per write applied on another member (replication lag)

A ``RunResult`` always carries its provenance (resolved scenario, seed,
package version, wall time, and the exception if the run failed), and round
trips through a directory of parquet files plus ``summary.json``.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# The recorder and its table layouts live with the model (which imports nothing above it);
# named here too, as before.
from workbench.model.recorder import (
    EVENT_FIELD_COLUMNS,
    EVENTS_COLUMNS,
    OP_CHUNK,
    OPS_COLUMNS,
    REPLICATION_COLUMNS,
    TIMESERIES_COLUMNS,
    Recorder,
    events_table,
)

__all__ = [
    "EVENTS_COLUMNS",
    "EVENT_FIELD_COLUMNS",
    "OPS_COLUMNS",
    "OP_CHUNK",
    "REPLICATION_COLUMNS",
    "TABLES",
    "TIMESERIES_COLUMNS",
    "Recorder",
    "RunResult",
    "environment_info",
    "events_table",
]

TABLES = ("ops", "events", "timeseries", "replication")


@dataclass
class RunResult:
    """Everything one run produced, and where it came from."""

    ops: pd.DataFrame
    events: pd.DataFrame
    timeseries: pd.DataFrame
    replication: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.provenance.get("exception") is None

    @property
    def scenario(self) -> dict[str, Any]:
        return self.provenance.get("scenario", {})

    def summary(self) -> dict[str, Any]:
        """The run's summary (see :func:`workbench.analysis.summary.summarise`)."""
        from workbench.analysis.summary import summarise

        return summarise(self)

    def to_dir(self, path: str | Path) -> Path:
        """Write ``ops/events/timeseries/replication.parquet``, ``provenance.json`` and ``summary.json``."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            getattr(self, name).to_parquet(out / f"{name}.parquet", index=False)
        (out / "provenance.json").write_text(json.dumps(self.provenance, indent=2, default=str) + "\n")
        (out / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
        return out

    @classmethod
    def from_dir(cls, path: str | Path) -> RunResult:
        from workbench.errors import WorkbenchInputError
        from workbench.model.events import FIELDS

        src = Path(path)
        tables = {name: pd.read_parquet(src / f"{name}.parquet") for name in TABLES}
        provenance = json.loads((src / "provenance.json").read_text())
        missing = [name for name in FIELDS if name not in tables["events"].columns]
        if missing:
            # Written before events carried their fields: the analyses read the fields, and
            # guessing them back from the text is what the typed events replaced.
            version = provenance.get("environment", {}).get("workbench", "an older version")
            msg = (
                f"results written by workbench {version}, whose events table lacks the event fields "
                f"({', '.join(missing[:3])}, ...); run the scenario again to analyse it with this version"
            )
            raise WorkbenchInputError(msg, source=str(src))
        return cls(**tables, provenance=provenance)


def environment_info() -> dict[str, str]:
    import numpy
    import simpy

    from workbench.model import COMPILED, NOT_COMPILED_BECAUSE
    from workbench.version import __version__

    return {
        "workbench": __version__,
        # The compiled hot path gives the same results, faster (docs/speed.md).
        "model": "compiled (mypyc)" if COMPILED else f"Python sources ({NOT_COMPILED_BECAUSE})",
        "python": platform.python_version(),
        "simpy": simpy.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
    }
