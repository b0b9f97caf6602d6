"""The result of a run: :class:`RunResult`, and what its parts are.

The model's :class:`~workbench.model.recording.recorder.Recorder` fills columnar buffers while the
model runs and, at the end, builds the tables that :class:`RunResult` holds (every column,
its dtype, unit and meaning: :mod:`workbench.model.recording.tables`, re-exported here as ``TABLE_SCHEMAS``):

``ops``          one row per client operation
``events``       one row per cluster event (crashes, partitions, conflicts, ...), with a
                 column per field of its kind (``workbench.model.recording.events``, docs/events.md)
``timeseries``   sampled state, long format: time, entity, metric, value
``replication``  one row per write applied on another member (replication lag)

A ``RunResult`` always carries its provenance (resolved scenario, seed, package version,
wall time, and the exception if the run failed), and round trips through a directory of
parquet files plus ``provenance.json`` and ``summary.json``. Its scenario comes two ways:
``spec``, the typed :class:`~workbench.scenario.schema.Scenario` (durations are float
seconds: ``result.spec.clients.deadline``), which the analyses read; and ``scenario``, the
same as recorded in the provenance (JSON: durations are text such as ``"10 s"``), kept for
code that reads the dictionary.

The summary (:meth:`RunResult.summary`) is computed by the analysis layer, above this one:
its schema is :class:`workbench.results.summary.Summary`, and
:mod:`workbench.analysis.summary` installs the function that computes it
(:func:`install_summariser`) when it is imported, as ``import workbench`` does. The results
layer holds data and imports nothing above it (tests/test_layers.py).

May import: ``model`` (the recorder's table schemas), ``scenario``, ``blueprints``, ``errors``,
``version``; never analysis or above (the summariser registers itself from ``analysis``).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

# The recorder and its table layouts live with the model (which imports nothing above it);
# named here too, as before.
from workbench.model.recording.recorder import (
    EVENT_FIELD_COLUMNS,
    EVENTS_COLUMNS,
    OP_CHUNK,
    OPS_COLUMNS,
    REPLICATION_COLUMNS,
    TIMESERIES_COLUMNS,
    Recorder,
    events_table,
)
from workbench.model.recording.tables import TABLES as TABLE_SCHEMAS
from workbench.results.summary import Summary
from workbench.scenario.load import recorded_scenario
from workbench.scenario.schema import Scenario

__all__ = [
    "EVENTS_COLUMNS",
    "EVENT_FIELD_COLUMNS",
    "OPS_COLUMNS",
    "OP_CHUNK",
    "REPLICATION_COLUMNS",
    "TABLES",
    "TABLE_SCHEMAS",
    "TIMESERIES_COLUMNS",
    "NoScenario",
    "Recorder",
    "RunResult",
    "Summary",
    "environment_info",
    "events_table",
    "install_summariser",
]

TABLES = ("ops", "events", "timeseries", "replication")

# The function behind RunResult.summary(): workbench.analysis.summary.summarise, which installs
# itself when imported (the analysis layer is above this one, so this one cannot import it).
_summariser: Callable[[RunResult], Summary] | None = None


def install_summariser(summarise: Callable[[RunResult], Summary]) -> None:
    """Make ``summarise`` the function :meth:`RunResult.summary` and :meth:`RunResult.to_dir`
    call. :mod:`workbench.analysis.summary` installs its :func:`summarise` when imported."""
    global _summariser
    _summariser = summarise


class NoScenario(LookupError):
    """A result whose provenance records no scenario (built by hand without one)."""


@dataclass
class RunResult:
    """Everything one run produced, and where it came from.

    ``ops``, ``events``, ``timeseries`` and ``replication`` are the tables described in
    :mod:`workbench.model.recording.tables`; ``provenance`` is what ``provenance.json`` holds (the
    resolved scenario, seed, versions, times, and the exception of a failed run)."""

    ops: pd.DataFrame
    events: pd.DataFrame
    timeseries: pd.DataFrame
    replication: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the run ended without an exception in the model."""
        return self.provenance.get("exception") is None

    @property
    def scenario(self) -> dict[str, Any]:
        """The resolved scenario as the provenance records it: JSON, durations as text
        (``"10 s"``); empty if it records none. The analyses read :attr:`spec` instead."""
        return self.provenance.get("scenario", {})

    @cached_property
    def spec(self) -> Scenario:
        """The typed scenario (a :class:`~workbench.scenario.schema.DeploymentScenario` for a
        run of several clusters), rebuilt once from the provenance by
        :func:`~workbench.scenario.load.recorded_scenario`, so a run analysed live and one
        read back from disk see the same values. Every run has one, failed runs too (the
        scenario was validated before the model was built); a result built by hand without
        ``provenance["scenario"]`` raises :class:`NoScenario`."""
        data = self.provenance.get("scenario")
        if data is None:
            msg = "this result records no scenario (provenance['scenario']); the analyses need one"
            raise NoScenario(msg)
        return recorded_scenario(data)

    def summary(self) -> Summary:
        """The run's summary (see :func:`workbench.analysis.summary.summarise`; its schema is
        :class:`~workbench.results.summary.Summary`)."""
        if _summariser is None:  # only if workbench.results was loaded without its package
            msg = "no summariser installed: import workbench.analysis.summary (import workbench does)"
            raise RuntimeError(msg)
        return _summariser(self)

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
        """A result written by :meth:`to_dir` (by this version: an older one's events lack their fields)."""
        from workbench.errors import WorkbenchInputError
        from workbench.model.recording.events import FIELDS

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
    """What a run was made with, for its provenance: the workbench's version, whether the model ran
    compiled, and the versions of Python, SimPy, NumPy and pandas."""
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
