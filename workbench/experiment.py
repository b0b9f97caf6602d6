"""Run a scenario and collect its result, with provenance, even when it fails."""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime

from workbench.errors import WorkbenchInputError
from workbench.model.assembly.deployment import Deployment
from workbench.model.assembly.world import World
from workbench.model.recording.recorder import Recorder
from workbench.results import RunResult, environment_info
from workbench.scenario.schema import DeploymentScenario, Scenario


def run(scenario: Scenario, *, progress: bool = False) -> RunResult:
    """Simulate ``scenario`` and return its :class:`RunResult` (see :func:`run_world`)."""
    return run_world(scenario, progress=progress)[1]


def run_world(scenario: Scenario, *, progress: bool = False) -> tuple[World | Deployment | None, RunResult]:
    """Simulate ``scenario``; return the model as it ended (None if it could not be built)
    and its :class:`RunResult`, for tests and notebooks that look inside the model.

    With ``progress=True`` a tqdm bar tracks simulated time (in notebooks it
    renders as a widget). An exception inside the model does not escape: the
    result carries it in ``provenance["exception"]`` with whatever was recorded.
    Bad input found while running (a malformed row of a replayed trace) is the
    exception: it raises :class:`~workbench.errors.WorkbenchInputError`, like bad
    input found when the scenario was loaded.
    """
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    world: World | Deployment | None = None
    error: str | None = None
    error_trace: str | None = None
    try:
        world = Deployment(scenario) if isinstance(scenario, DeploymentScenario) else World(scenario)
        if progress:
            world.run(progress=_progress_bar(scenario))
        else:
            world.run()
        world.finish()
    except WorkbenchInputError:
        raise  # bad input found mid-run (a trace row): the caller's input error, not a failed run
    except Exception as exc:  # a failed run still returns its provenance
        error = f"{type(exc).__name__}: {exc}"
        error_trace = traceback.format_exc()
    wall = time.perf_counter() - t0
    if world is not None:
        tables, figures = world.tables(), world.run_figures()
    else:
        tables = Recorder([], [], _database_name(scenario)).tables()
        figures = {
            "sim_seconds": 0.0,
            "events_processed": 0,
            "ops_issued": 0,
            "idle_elided_seconds": 0.0,
            "idle_parks": 0,
            "network": {"segments_stalled": 0, "connections_broken": 0},
            "members": [],
        }
    provenance = {
        "scenario": scenario.model_dump(mode="json"),
        "seed": scenario.seed,
        "started_at": started,
        "wall_seconds": wall,
        **figures,
        "environment": environment_info(),
        "exception": error,
        "traceback": error_trace,
    }
    return world, RunResult(**tables, provenance=provenance)


def _database_name(scenario: Scenario) -> str:
    if isinstance(scenario, DeploymentScenario):
        return scenario.blueprint.clusters[0].database.name
    return scenario.blueprint.database.name


def _progress_bar(scenario: Scenario):
    from tqdm.auto import tqdm

    total = scenario.duration
    bar = tqdm(total=round(total, 3), unit="sim s", desc=scenario.name, leave=False)
    state = {"last": 0.0}

    def update(now: float) -> None:
        """Advance the bar to simulated time ``now`` (seconds); close it at the end of the run."""
        bar.update(round(now - state["last"], 3))
        state["last"] = now
        if now >= total:
            bar.close()

    return update
