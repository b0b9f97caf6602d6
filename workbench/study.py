"""Studies: the same workload and fault plan over several variants, replicated, in parallel.

A *study* is a base scenario plus what varies: a list of named variants (for
``compare``) or a grid of factors (for ``sweep``), and a number of replications.
Each run is a :class:`RunSpec`: the overrides that make its variant, and a seed.
Replication r of every variant uses the same seed (the base seed + r), so variants
see the same arrivals and fault draws (common random numbers) and their
differences are not noise from different draws. A variant or grid point that sets
``seed`` moves its own replications: replication r runs that seed + r.

Runs go to an executor: ``serial``, local ``processes`` (default: one per core),
or a Dask cluster (an existing scheduler address, or a local cluster of N
workers). Every run is deterministic and rows come back in spec order, so the
dataset is identical whichever executor ran it (wall-clock time is left out).

Study file (YAML)::

    name: blueprints-under-failover
    scenario: leader-failover.yaml        # a path (relative to the study) or an inline mapping
    replications: 5
    variants:                             # for compare
      - {name: three-node, set: {blueprint: three-node}}
      - {name: five-node, set: {blueprint: five-node, blueprint.database.members: null}}
    grid:                                 # for sweep: every combination
      workload.rate: [500, 1000, 2000]
      clients.read_balance: [None, RoundRobin]
    capacity: {objectives: ["p99_write_ms<=50"], range: [200, 20000], target: 3000}   # for report

docs/studies.md describes every field. Variant names are text, and each names the folder its
runs are written to (``--out``), so two names must not map to the same folder.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workbench.errors import WorkbenchInputError, WorkbenchWarning, did_you_mean, one_of
from workbench.scenario.load import parse_yaml, scenario_from_dict
from workbench.scenario.schema import Deployment, Scenario

# Fields that depend on the machine, not the model: left out so datasets match across executors.
MACHINE_FIELDS = ("wall_seconds",)


# Beyond this a confidence interval stops narrowing in any useful way, and the runs would not end.
MAX_REPLICATIONS = 10_000


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: a variant (its overrides) and a replication (its seed)."""

    index: int
    variant: str
    factors: tuple[tuple[str, Any], ...]
    replication: int
    seed: int


@dataclass(frozen=True)
class Study:
    """A base scenario (``base``, from ``source``; relative paths from ``base_dir``), the variants or
    grid that vary it, and how many replications each runs."""

    name: str
    base: dict[str, Any]
    source: str
    base_dir: str | None
    replications: int = 5
    variants: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    # Overrides of the whole study (``--set`` on the command line), applied before each variant's.
    overrides: tuple[tuple[str, Any], ...] = ()

    def scenario(self, factors: Iterable[tuple[str, Any]] = (), seed: int | None = None) -> Scenario:
        """The study's scenario with ``factors`` (a variant's or grid point's overrides) and ``seed``."""
        return scenario_from_dict(
            self.base,
            source=self.source,
            base_dir=self.base_dir,
            overrides={**dict(self.overrides), **dict(factors)},
            seed=seed,
        )

    @property
    def base_seed(self) -> int:
        """The study's seed (``--set seed``, else the base scenario's, else 1): replication r runs
        it + r, unless its variant sets a seed of its own."""
        return int(dict(self.overrides).get("seed", self.base.get("seed", 1)))

    def first_seed(self, factors: Iterable[tuple[str, Any]] = ()) -> int:
        """The seed of replication 0 of a variant or grid point: its own ``seed`` if it sets one."""
        seeds = [value for key, value in factors if _norm(key) == "seed"]
        return int(seeds[-1]) if seeds else self.base_seed


# ----------------------------------------------------------------------------- building studies


def study_from_scenario(
    path: str | Path,
    *,
    blueprints: Iterable[str] = (),
    replications: int = 5,
    overrides: Mapping[str, Any] | None = None,
) -> Study:
    """A comparison study from a plain scenario file: one variant per blueprint (or just the scenario).

    ``overrides`` (dotted paths, as ``--set`` gives them) apply to every variant, the same way
    ``workbench run --set`` applies them: into lists (``faults.0.at``) and after the blueprint."""
    path = Path(path)
    base = _read_mapping(path)
    study_keys = sorted(set(base) & {"scenario", "variants", "grid", "capacity", "replications"})
    if study_keys:
        msg = (
            f"this is a study file (it has '{study_keys[0]}'), but a scenario file is wanted here; "
            "run a study with 'workbench compare', 'sweep' or 'report'"
        )
        raise WorkbenchInputError(msg, source=str(path))
    blueprints = list(blueprints)
    for name in blueprints:
        if not isinstance(name, str) or not name.strip():
            raise WorkbenchInputError(f"{name!r} is not a blueprint name", source="blueprints")
        if blueprints.count(name) > 1:
            raise WorkbenchInputError(f"'{name}' is listed twice", source="blueprints")
    if not isinstance(replications, int) or isinstance(replications, bool) or not 1 <= replications <= MAX_REPLICATIONS:
        msg = f"replications must be from 1 to {MAX_REPLICATIONS:,}, got {replications!r}"
        raise WorkbenchInputError(msg, source=str(path))
    variants = tuple((name, (("blueprint", name),)) for name in blueprints) or ((str(base.get("name", "base")), ()),)
    study = Study(
        name=str(base.get("name", path.stem)),
        base=base,
        source=str(path),
        base_dir=str(path.parent),
        replications=replications,
        variants=variants,
        overrides=tuple((str(k), v) for k, v in (overrides or {}).items()),
    )
    check_study(study)
    return study


def load_study(path: str | Path, *, replications: int | None = None) -> Study:
    """A study file (see the module docstring); a plain scenario file is a one-variant study."""
    path = Path(path)
    data = _read_mapping(path)
    if "scenario" not in data and ("variants" not in data and "grid" not in data):
        return study_from_scenario(path, replications=replications or 5)
    source = str(path)
    allowed = {"name", "description", "scenario", "replications", "variants", "grid", "capacity"}
    for key in data:
        if key not in allowed:
            msg = f"unknown key '{key}' in a study; allowed: {', '.join(sorted(allowed))}"
            raise WorkbenchInputError(msg, source=source, path=str(key))
    scenario = data.get("scenario")
    if isinstance(scenario, str) and scenario.strip():
        scenario_path = (path.parent / scenario).resolve()
        if not scenario_path.is_file():
            what = "a folder, not a scenario file" if scenario_path.is_dir() else "no such file"
            msg = f"'{scenario}' is {what} (looked for {scenario_path}); name a scenario YAML file"
            raise WorkbenchInputError(msg, source=source, path="scenario")
        base = _read_mapping(scenario_path)
        base_dir, base_source = str(scenario_path.parent), str(scenario_path)
    elif isinstance(scenario, Mapping):
        base, base_dir, base_source = dict(scenario), str(path.parent), source
    else:
        msg = (
            f"a study needs 'scenario': a scenario file (relative to the study) or an inline scenario, got {scenario!r}"
        )
        raise WorkbenchInputError(msg, source=source, path="scenario")
    reps = replications if replications is not None else data.get("replications", 5)
    if not isinstance(reps, int) or isinstance(reps, bool) or not 1 <= reps <= MAX_REPLICATIONS:
        msg = f"replications must be a whole number from 1 to {MAX_REPLICATIONS:,}, got {reps!r}"
        raise WorkbenchInputError(msg, source=source, path="replications")
    variants = _variants(data.get("variants"), source)
    grid = []
    raw_grid = data.get("grid")
    if raw_grid is not None and not isinstance(raw_grid, Mapping):
        msg = (
            f"grid maps each factor (a dotted path) to the list of its values, e.g. "
            f"{{workload.rate: [500, 1000], blueprint.database.replication_factor: [2, 3]}}, got {raw_grid!r}"
        )
        raise WorkbenchInputError(msg, source=source, path="grid")
    for key, values in (raw_grid or {}).items():
        if not isinstance(values, list) or not values:
            msg = f"a grid factor lists its values, e.g. {key}: [500, 1000], got {values!r}"
            raise WorkbenchInputError(msg, source=source, path=f"grid.{key}")
        grid.append((str(key), tuple(values)))
    if "capacity" in data:
        capacity_spec(data["capacity"], reps, source=source)
    study = Study(
        name=str(data.get("name", path.stem)),
        base=base,
        source=base_source,
        base_dir=base_dir,
        replications=reps,
        variants=tuple(variants),
        grid=tuple(grid),
        extra={k: data[k] for k in ("capacity", "description") if k in data},
    )
    check_study(study, study_source=source)
    return study


def _variants(raw: Any, source: str) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
    """The study's ``variants``: a list of {name, set}; names are non-empty text naming distinct folders."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        msg = (
            "variants is a list of {name, set} mappings, e.g. [{name: five-node, set: {blueprint: five-node}}], "
            f"got {raw!r}"
        )
        raise WorkbenchInputError(msg, source=source, path="variants")
    variants = []
    folders: dict[str, str] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or "name" not in item:
            msg = f"each variant is a mapping with a 'name' and 'set' (dotted paths to values), got {item!r}"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}]")
        unknown = set(item) - {"name", "set"}
        if unknown:
            key = str(sorted(map(str, unknown))[0])
            msg = f"unknown key '{key}' in a variant{did_you_mean(key, ['name', 'set'])}; allowed: name, set"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}].{key}")
        name = item["name"]
        if name is None:
            msg = "a variant needs a name (it labels its column and output folder), e.g. name: five-node"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}].name")
        if isinstance(name, bool | int | float):
            msg = f"a variant's name is text, but YAML read {name!r}; quote it as you meant it, e.g. name: '{name}'"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}].name")
        if not isinstance(name, str):
            msg = f"a variant's name is text, got {name!r}"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}].name")
        if not name.strip():
            msg = f"a variant's name cannot be empty, got {name!r}: it labels the variant's column and output folder"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}].name")
        folder = run_folder(name)
        if folder.casefold() in folders:
            other = folders[folder.casefold()]
            why = "is named twice" if other == name else f"and '{other}' would share the output folder '{folder}'"
            msg = f"variant '{name}' {why}; give each variant a name that differs in letters or digits"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}].name")
        folders[folder.casefold()] = name
        sets = item.get("set") or {}
        if not isinstance(sets, Mapping):
            msg = f"'set' maps dotted paths to values, e.g. {{blueprint: five-node, workload.rate: 2000}}, got {sets!r}"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}].set")
        variants.append((name, tuple((str(k), v) for k, v in sets.items())))
    return variants


def check_study(study: Study, study_source: str | None = None) -> None:
    """Validate every variant and grid point before anything runs: bad input fails fast."""
    for name, factors in study.variants or (("", ()),):
        try:
            study.scenario(factors)
        except WorkbenchInputError as err:
            where = f" (variant '{name}')" if name else ""
            raise WorkbenchInputError(err.message + where, source=study_source or err.source, path=err.path) from None
    for point in _grid_points(study):
        try:
            study.scenario(point)
        except WorkbenchInputError as err:
            text = ", ".join(f"{k}={v}" for k, v in point)
            raise WorkbenchInputError(
                f"{err.message} (grid point {text})", source=study_source or err.source, path=err.path
            ) from None


def _grid_points(study: Study) -> list[tuple[tuple[str, Any], ...]]:
    if not study.grid:
        return []
    keys = [k for k, _ in study.grid]
    return [tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in study.grid))]


def compare_specs(study: Study) -> list[RunSpec]:
    """Every variant × replication, replication r of each variant on seed base + r (or, for a
    variant that sets ``seed``, that seed + r). A study without variants compares its scenario alone."""
    specs = []
    for r in range(study.replications):
        for name, factors in study.variants or ((study.name, ()),):
            specs.append(RunSpec(len(specs), name, factors, r, study.first_seed(factors) + r))
    _warn_repeated_runs(specs, study.replications)
    return specs


def sweep_specs(study: Study) -> list[RunSpec]:
    """Every grid point (× each variant, if any) × replication; a grid or variant ``seed`` is
    the seed of replication 0 of its runs."""
    points = _grid_points(study) or [()]
    variants = study.variants or (("", ()),)
    specs = []
    for r in range(study.replications):
        for name, vfactors in variants:
            for point in points:
                label = " ".join(f"{k}={v}" for k, v in point)
                factors = vfactors + point
                specs.append(
                    RunSpec(
                        len(specs), " ".join(x for x in (name, label) if x), factors, r, study.first_seed(factors) + r
                    )
                )
    _warn_repeated_runs(specs, study.replications)
    return specs


def repeated_runs(specs: list[RunSpec], replications: int) -> str | None:
    """Say so when runs of different variants or grid points are the same run (same settings,
    same seed): identical rows that look like independent evidence."""
    groups: dict[tuple[Any, ...], list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault((_settings_key(spec.factors), spec.seed), []).append(spec)
    repeats = [g for g in groups.values() if len({s.variant for s in g}) > 1]
    if not repeats:
        return None
    a, b = repeats[0][0], next(s for s in repeats[0] if s.variant != repeats[0][0].variant)
    count = sum(len(g) - 1 for g in repeats)
    seeded = any(_norm(k) == "seed" for spec in (a, b) for k, _ in spec.factors)
    first = (
        f"'{a.variant}' replication {a.replication} and '{b.variant}' replication {b.replication} "
        f"both run seed {a.seed} with the same settings"
    )
    if seeded:
        advice = (
            f"a seed set in a variant or the grid is the seed of replication 0 and replication r runs seed + r, "
            f"so space such seeds at least {replications} (the replications) apart, or drop them and raise "
            "replications"
        )
    else:
        advice = "the variants set the same values; give them different settings or drop one"
    return f"{count} of {len(specs)} runs repeat another run exactly: {first}; {advice}"


def _warn_repeated_runs(specs: list[RunSpec], replications: int) -> None:
    message = repeated_runs(specs, replications)
    if message:
        warnings.warn(message, WorkbenchWarning, stacklevel=3)


def _settings_key(factors: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, str], ...]:
    settings = {_norm(k): v for k, v in factors if _norm(k) != "seed"}
    return tuple(sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in settings.items()))


def _norm(path: str) -> str:
    return str(path).replace("[", ".").replace("]", "").strip(".")


# ----------------------------------------------------------------------------- running


def execute(study: Study, spec: RunSpec, out_dir: str | None = None) -> dict[str, Any]:
    """Run one spec and return its row: flattened summary, factors, seed, variant.

    Module-level and free of open handles, so processes and Dask workers can run it."""
    from workbench.experiment import run

    scenario = study.scenario(spec.factors, seed=spec.seed)
    result = run(scenario)
    if out_dir is not None:
        result.to_dir(Path(out_dir) / run_folder(spec.variant) / f"rep{spec.replication}")
    row: dict[str, Any] = {"run": spec.index, "variant": spec.variant, "replication": spec.replication}
    row.update({f"factor.{k}": _scalar(v) for k, v in spec.factors})
    bp = scenario.blueprint
    clusters = bp.clusters if isinstance(bp, Deployment) else (bp,)  # a deployment: every cluster
    row["nodes"] = sum(len(c.nodes) for c in clusters)
    row["copies"] = sum(c.database.replication_factor for c in clusters)
    summary = result.summary()
    row.update(flatten(summary))
    row["warnings"] = "\n".join(summary["warnings"])  # one per line: the messages contain commas
    row["seed"] = spec.seed
    from workbench.analysis.capacity import utilisation

    for key, value in utilisation(result).items():
        row[f"utilisation.{key}"] = value
    for name in MACHINE_FIELDS:
        row.pop(name, None)
    return row


def run_specs(
    study: Study,
    specs: list[RunSpec],
    *,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Run every spec and return one row per run, in spec order.

    ``executor``: ``serial``, ``processes`` (``workers``, default one per core) or
    ``dask`` (``scheduler='tcp://host:port'`` for an existing cluster, else a local
    cluster of ``dask_local`` workers)."""
    out = str(out_dir) if out_dir is not None else None
    if out is not None:
        _check_folders(specs)
    if executor not in ("serial", "processes", "dask"):
        msg = f"unknown executor '{executor}'; use serial, processes or dask"
        raise WorkbenchInputError(msg, source="workbench")
    rows: dict[int, dict[str, Any]] = {}
    # One run needs no pool; but a scheduler the user named is always used (and so checked).
    serial = executor == "serial" or (len(specs) <= 1 and not (executor == "dask" and scheduler is not None))
    # Connect to Dask first: an address where nothing answers fails before any progress bar.
    dask = _dask_client(scheduler, dask_local) if executor == "dask" and not serial else contextlib.nullcontext()
    with dask as client:
        bar = _bar(len(specs), study.name) if progress else None

        def done(row: dict[str, Any]) -> None:
            """Keep a finished run's row, advance the progress bar and hand the row to ``on_row``."""
            rows[row["run"]] = row
            if bar is not None:
                bar.update(1)
            if on_row is not None:
                on_row(row)

        try:
            if serial:
                for spec in specs:
                    done(execute(study, spec, out))
            elif executor == "processes":
                from concurrent.futures import ProcessPoolExecutor, as_completed

                with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
                    futures = [pool.submit(execute, study, spec, out) for spec in specs]
                    for future in as_completed(futures):
                        done(future.result())
            else:
                from dask.distributed import as_completed as dask_completed

                futures = client.map(execute, [study] * len(specs), specs, [out] * len(specs), pure=False)
                for future in dask_completed(futures):
                    done(future.result())
        finally:
            if bar is not None:
                bar.close()
    table = pd.DataFrame([rows[i] for i in sorted(rows)])
    return table


def _check_folders(specs: list[RunSpec]) -> None:
    """Each variant writes to its own folder: two labels that map to one folder would overwrite."""
    folders: dict[str, str] = {}
    for spec in specs:
        key = run_folder(spec.variant).casefold()
        other = folders.setdefault(key, spec.variant)
        if other != spec.variant:
            msg = (
                f"variants '{other}' and '{spec.variant}' would write to the same folder "
                f"'{run_folder(spec.variant)}'; give them names that differ in letters or digits"
            )
            raise WorkbenchInputError(msg, source="variants")


DASK_CONNECT_TIMEOUT_S = 5


def _connect(scheduler: str):
    """A client of the Dask scheduler at ``scheduler``, or one clear line saying why not."""
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout=f"{DASK_CONNECT_TIMEOUT_S}s")
    except (OSError, ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, OSError):
            msg = (
                f"no Dask scheduler answered at '{scheduler}' within {DASK_CONNECT_TIMEOUT_S} s ({detail}); "
                "start one with 'dask scheduler', or use --dask-local N for a local cluster"
            )
        else:
            msg = f"'{scheduler}' is not a Dask scheduler address ({detail}); write it like tcp://10.0.0.5:8786"
        raise WorkbenchInputError(msg, source="--scheduler") from None


@contextlib.contextmanager
def _dask_client(scheduler: str | None, dask_local: int | None):
    """A client of the scheduler at ``scheduler``, else of a local cluster of ``dask_local`` workers."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a declared dependency
        msg = "the dask executor needs dask.distributed (pip install 'dask[distributed]')"
        raise WorkbenchInputError(msg, source="workbench") from None
    if scheduler is not None:
        with _connect(scheduler) as client:
            yield client
        return
    cluster = LocalCluster(n_workers=dask_local or 1, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def _bar(total: int, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc=name, leave=False)


# ----------------------------------------------------------------------------- tables


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested summary -> ``{"latency_ms.read.p99": 1.2, "faults.0.rto_s": 0.3, ...}``."""
    out: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}{key}."))
    elif isinstance(value, list | tuple):
        if all(not isinstance(v, Mapping | list | tuple) for v in value):
            out[prefix[:-1]] = ", ".join(map(str, value))
        else:
            for i, item in enumerate(value):
                out.update(flatten(item, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = value
    return out


MAX_LISTED_FAULTS = 6  # beyond this many faults a run's RTO/RPO are summarised

COMPARE_METRICS: tuple[tuple[str, str], ...] = (
    ("nodes", "nodes"),
    ("copies", "database copies"),
    ("latency_ms.read.p50", "read p50 (ms)"),
    ("latency_ms.read.p99", "read p99 (ms)"),
    ("latency_ms.write.p50", "write p50 (ms)"),
    ("latency_ms.write.p99", "write p99 (ms)"),
    ("availability.read", "read availability"),
    ("availability.write", "write availability"),
    ("availability_within_deadline.read", "read availability within the deadline"),
    ("availability_within_deadline.write", "write availability within the deadline"),
    ("cluster.availability", "cluster availability"),
    ("cluster.elections", "elections started"),
    ("cluster.leaderless_seconds", "time without a quorum leader (s)"),
    ("cluster.leader_lost", "followers that lost their leader"),
    ("cluster.op_latency_ms.p50", "cluster op p50 (ms)"),
    ("cluster.op_latency_ms.p99", "cluster op p99 (ms)"),
    ("ops.stalled", "operations stalled at the end"),
    ("stale_read_fraction", "stale reads"),
    ("conflicts.total", "conflicts"),
    ("lost_writes", "lost writes"),
    # A run with a dark data centre (analysis.deployment.region_outage).
    ("region_outage.users_rto_s", "region outage: its users served again after (s)"),
    ("region_outage.requests_unserved", "region outage: requests unserved"),
    ("region_outage.others_rto_s", "region outage: RTO of clients elsewhere (s)"),
    ("region_outage.errors_during", "region outage: errors elsewhere"),
    ("region_outage.failovers_during", "region outage: operations that failed over"),
    ("region_outage.rpo_writes", "region outage: RPO (writes)"),
    ("region_outage.rpo_seconds", "region outage: RPO (s of data)"),
    ("region_outage.write_latency_during_ms.p50", "region outage: write p50 during (ms)"),
    ("region_outage.write_latency_during_ms.p99", "region outage: write p99 during (ms)"),
    ("region_outage.read_latency_during_ms.p99", "region outage: read p99 during (ms)"),
)


def compare_table(rows: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Metrics (rows) by variant (columns): mean and the half-width of its ``confidence``
    interval over replications (Student t), for the metrics of :data:`COMPARE_METRICS`
    plus RTO and RPO of each fault."""
    metrics = list(COMPARE_METRICS)
    fault_columns = sorted(
        {c for c in rows.columns if c.startswith("faults.") and c.endswith((".rto_s", ".rpo_writes"))},
        key=lambda c: (int(c.split(".")[1]), c),
    )
    if len(fault_columns) > 2 * MAX_LISTED_FAULTS:
        # Many faults (random failures): per-run aggregates instead of one line per fault.
        rows = rows.copy()
        rto = rows[[c for c in fault_columns if c.endswith(".rto_s")]].apply(pd.to_numeric, errors="coerce")
        rpo = rows[[c for c in fault_columns if c.endswith(".rpo_writes")]].apply(pd.to_numeric, errors="coerce")
        rows["faults.count"] = rto.notna().sum(axis=1)
        rows["faults.rto_mean"] = rto.mean(axis=1)
        rows["faults.rto_max"] = rto.max(axis=1)
        rows["faults.rpo_total"] = rpo.sum(axis=1)
        metrics += [
            ("faults.count", "faults"),
            ("faults.rto_mean", "RTO, mean over faults (s)"),
            ("faults.rto_max", "RTO, worst fault (s)"),
            ("faults.rpo_total", "RPO, writes at risk over all faults"),
        ]
        fault_columns = []
    for column in fault_columns:
        _, i, what = column.split(".")
        kind = rows[f"faults.{i}.fault"].iloc[0] if f"faults.{i}.fault" in rows else "fault"
        # The target may differ between variants (a role resolves to different nodes): name it
        # only when it is the same everywhere.
        targets = set(rows[f"faults.{i}.target"].dropna()) if f"faults.{i}.target" in rows else set()
        target = f" {targets.pop()}" if len(targets) == 1 else ""
        label = "RTO (s)" if what == "rto_s" else "RPO (writes)"
        metrics.append((column, f"fault {int(i) + 1}: {kind}{target} {label}"))
    order = list(dict.fromkeys(rows["variant"]))
    records = []
    for column, label in metrics:
        if column not in rows:
            continue
        record: dict[str, Any] = {"metric": label, "key": column}
        for variant in order:
            values = pd.to_numeric(rows.loc[rows["variant"] == variant, column], errors="coerce").dropna()
            record[variant] = _mean_ci(values.to_numpy(dtype=float), confidence)
        records.append(record)
    return pd.DataFrame(records).set_index("metric")


def _mean_ci(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    if values.size == 0:
        return None
    mean = float(values.mean())
    if values.size < 2:
        return (mean, math.nan)
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return (mean, half)


def format_compare(table: pd.DataFrame) -> str:
    """The side-by-side table as text: ``mean ± half-width`` per variant."""
    variants = [c for c in table.columns if c != "key"]
    cells = {v: [_fmt_ci(table.at[m, v]) for m in table.index] for v in variants}
    label_w = max(len(str(m)) for m in table.index)
    widths = {v: max(len(v), *(len(c) for c in cells[v])) for v in variants}
    lines = [" " * label_w + "  " + "  ".join(f"{v:>{widths[v]}}" for v in variants)]
    for i, metric in enumerate(table.index):
        lines.append(f"{metric:<{label_w}}  " + "  ".join(f"{cells[v][i]:>{widths[v]}}" for v in variants))
    return "\n".join(lines)


def _fmt_ci(cell: Any) -> str:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return "-"
    mean, half = cell
    if (math.isnan(half) or half == 0) and float(mean).is_integer() and abs(mean) > 1:
        return f"{mean:,.0f}"
    digits = 4 if abs(mean) <= 1 else 2 if abs(mean) < 100 else 0
    if math.isnan(half) or half == 0:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


# ----------------------------------------------------------------------------- helpers


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise WorkbenchInputError(f"no such file (looked for {path.resolve()})", source=str(path))
    if path.is_dir():
        raise WorkbenchInputError("is a folder; name a YAML file", source=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkbenchInputError(f"cannot read the file: {exc}", source=str(path)) from None
    data = parse_yaml(text, str(path))
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise WorkbenchInputError(f"expected a mapping of keys to values, but the file is {kind}", source=str(path))
    return dict(data)


def _scalar(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def run_folder(variant: str) -> str:
    """The folder a variant's runs are written to (``OUT/<folder>/rep<r>``): its name with
    anything but letters, digits, ``-``, ``_`` and ``.`` as ``_``; never ``.`` or ``..``."""
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in variant) or "base"
    return "_" * len(slug) if set(slug) == {"."} else slug


# ----------------------------------------------------------------------------- capacity

CAPACITY_KEYS = ("objectives", "range", "target", "replications", "beyond")
DEFAULT_CAPACITY_RANGE = (100.0, 100_000.0)
DEFAULT_BEYOND = 2  # doublings past the range's top when every load in it meets the objectives
MAX_BEYOND = 10


@dataclass(frozen=True)
class CapacitySpec:
    """A study's ``capacity`` section, checked: see docs/studies.md."""

    objectives: tuple[str, ...]
    low: float
    high: float
    target: float | None
    replications: int
    beyond: int = DEFAULT_BEYOND


def capacity_spec(spec: Any, replications: int, *, source: str) -> CapacitySpec:
    """Check a study's ``capacity`` section (objectives, range, target, replications) and
    fill in its defaults: range [100, 100000] ops/s, no target, the study's replications."""

    def fail(path: str, msg: str) -> WorkbenchInputError:
        """An input error at ``capacity<path>`` in the study file."""
        return WorkbenchInputError(msg, source=source, path=f"capacity{path}")

    if not isinstance(spec, Mapping):
        example = "{objectives: ['p99_write_ms<=50'], range: [200, 20000], target: 3000}"
        return_msg = (
            f"capacity is a mapping with objectives and optionally range, target and replications, e.g. {example}"
        )
        raise fail("", f"{return_msg}; got {spec!r}")
    for key in spec:
        if key not in CAPACITY_KEYS:
            hint = did_you_mean(str(key), CAPACITY_KEYS)
            raise fail(f".{key}", f"unknown key '{key}' in capacity{hint}; allowed: {one_of(CAPACITY_KEYS)}")
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives or not all(isinstance(o, str) for o in objectives):
        msg = f"list the objectives, e.g. objectives: ['p99_write_ms<=50', 'availability>=99.9%'], got {objectives!r}"
        raise fail(".objectives", msg)
    from workbench.analysis.capacity import parse_slo

    for i, text in enumerate(objectives):
        try:
            parse_slo(text)
        except WorkbenchInputError as err:
            raise fail(f".objectives[{i}]", err.message) from None
    bounds = spec.get("range", list(DEFAULT_CAPACITY_RANGE))
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(_is_number(b) for b in bounds)
        or not 0 < bounds[0] < bounds[1]
        or not math.isfinite(bounds[1])
    ):
        raise fail(".range", f"range is [LOW, HIGH] in ops/s with 0 < LOW < HIGH, e.g. [200, 20000]; got {bounds!r}")
    target = spec.get("target")
    if target is not None and not (_is_number(target) and 0 < target < math.inf):
        raise fail(".target", f"target is a load in ops/s above 0 (the headroom is reported there), got {target!r}")
    reps = spec.get("replications", replications)
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise fail(".replications", f"replications (runs per load) is a whole number of at least 1, got {reps!r}")
    beyond = spec.get("beyond", DEFAULT_BEYOND)
    if not isinstance(beyond, int) or isinstance(beyond, bool) or not 0 <= beyond <= MAX_BEYOND:
        msg = (
            f"beyond is how many times the search doubles past the range's top when every load in it meets the "
            f"objectives: a whole number from 0 (stop at the top) to {MAX_BEYOND}, got {beyond!r}"
        )
        raise fail(".beyond", msg)
    low, high = (float(b) for b in bounds)
    return CapacitySpec(tuple(objectives), low, high, float(target) if target is not None else None, reps, beyond)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


@dataclass
class CapacityResult:
    """What the load search found: the highest rate meeting every objective, each rate
    tried (mean over replications), the headroom at a target rate, and the bottleneck."""

    max_rate: float | None
    points: pd.DataFrame
    objectives: list[str]
    target: float | None = None
    headroom: float | None = None
    bottleneck: str | None = None
    bottleneck_mean: float | None = None
    capped: bool = False  # every load searched met the objectives: the limit lies beyond
    searched_to: float | None = None  # the highest load searched (past the range's top when nothing failed in it)

    def as_dict(self) -> dict[str, Any]:
        """The result as plain data for ``workbench capacity --json``, the points as records."""
        return {
            "max_rate": self.max_rate,
            "objectives": self.objectives,
            "target": self.target,
            "headroom": self.headroom,
            "bottleneck": self.bottleneck,
            "bottleneck_utilisation": self.bottleneck_mean,
            "capped": self.capped,
            "searched_to": self.searched_to,
            "points": self.points.to_dict("records"),
        }


def find_capacity(
    study: Study,
    objectives: list[str],
    *,
    low: float,
    high: float,
    target: float | None = None,
    tolerance: float = 0.05,
    beyond: int = DEFAULT_BEYOND,
    progress: bool = True,
    factors: tuple[tuple[str, Any], ...] = (),
    **executor: Any,
) -> CapacityResult:
    """The highest ``workload.rate`` in ``[low, high]`` at which the mean over the study's
    replications meets every objective (``p99_write_ms<=50``, ``availability>=99.9%``).

    The search doubles from ``low`` until an objective fails (or ``high``), then bisects
    (geometrically) until the bracket is within ``tolerance``; each rate runs the
    study's replications with common random numbers. Throughput is monotone in
    the offered load up to saturation, which is what makes bisection sound.

    When every load up to ``high`` meets the objectives, the limit lies beyond the range: the
    search goes on doubling up to ``beyond`` times more (not past a load the scenario's own
    bounds refuse), so that a report says where the limit is, not just that it was not found."""
    from workbench.analysis.capacity import check_slo_metrics, parse_slo

    if isinstance(objectives, str) or not objectives:
        raise WorkbenchInputError(f"give a list of objectives, got {objectives!r}", source="--slo")
    slos = [parse_slo(text) for text in objectives]
    if study.replications < 1:
        raise WorkbenchInputError(f"at least 1 run per load, got {study.replications}", source="--replications")
    if not (0 < low < high < math.inf):
        raise WorkbenchInputError(f"needs 0 < LOW < HIGH, got {low:g} {high:g}", source="--range")
    if not 0 < tolerance < 1:
        raise WorkbenchInputError(f"a fraction between 0 and 1 (0.05 is 5 %), got {tolerance:g}", source="--tolerance")
    if isinstance(beyond, bool) or not isinstance(beyond, int) or not 0 <= beyond <= MAX_BEYOND:
        msg = f"a whole number of doublings from 0 to {MAX_BEYOND}, got {beyond!r}"
        raise WorkbenchInputError(msg, source="--beyond")
    if target is not None and not 0 < target < math.inf:
        raise WorkbenchInputError(f"a load in ops/s above 0, got {target:g}", source="--target")
    cache: dict[float, dict[str, Any]] = {}
    first_seed = study.first_seed(factors)
    # One progress bar for the whole search (not one per load): its total is the most runs the
    # search can take, doubling from low to high, then bisecting down to the tolerance.
    doublings = math.ceil(math.log2(high / low)) + 1 + beyond
    bisections = math.ceil(math.log2(max(math.log(2.0) / math.log1p(tolerance), 1.0))) + 1
    bar = _bar((doublings + bisections) * study.replications, f"{study.name}: capacity") if progress else None

    def tick(_row: dict[str, Any]) -> None:
        """Advance the search's progress bar by one run."""
        if bar is not None:
            bar.update(1)

    def evaluate(rate: float) -> dict[str, Any]:
        """The mean over the study's replications at ``rate`` ops/s, with ``meets``: whether it holds
        every objective. Each rate runs once."""
        rate = float(round(rate, 6))
        if rate not in cache:
            if bar is not None:
                bar.set_description(f"{study.name}: load {len(cache) + 1}, {rate:,.0f} ops/s")
            specs = [
                RunSpec(r, f"rate={rate:g}", (*factors, ("workload.rate", rate)), r, first_seed + r)
                for r in range(study.replications)
            ]
            rows = run_specs(study, specs, progress=False, on_row=tick, **executor)
            mean = _mean_row(rows)
            if not cache:  # the first load run: every objective names a figure the runs have
                check_slo_metrics(slos, mean, f"at {rate:g} ops/s")
            mean["rate"] = rate
            mean["meets"] = all(slo.met(mean) for slo in slos)
            cache[rate] = mean
        return cache[rate]

    def allowed(rate: float) -> bool:
        """Past the range: a load whose runs the scenario's own bounds refuse ends the search."""
        try:
            study.scenario((*factors, ("workload.rate", float(round(rate, 6)))), seed=first_seed)
        except WorkbenchInputError:
            return False
        return True

    best: float | None = None
    lo = low
    top = high * 2.0**beyond
    if evaluate(lo)["meets"]:
        best = lo
        hi = None
        rate = lo
        while rate < top:
            rate = min(rate * 2, high) if rate < high else rate * 2
            if rate > high and not allowed(rate):
                break
            if evaluate(rate)["meets"]:
                best = lo = rate
            else:
                hi = rate
                break
        while hi is not None and hi / lo > 1 + tolerance:
            mid = math.sqrt(lo * hi)
            if evaluate(mid)["meets"]:
                best = lo = mid
            else:
                hi = mid
    result = CapacityResult(best, _points(cache, slos), [s.text for s in slos], target)
    result.searched_to = max(cache)
    result.capped = best is not None and best >= result.searched_to
    if best is not None:
        at_best = cache[float(round(best, 6))]
        result.bottleneck = at_best.get("utilisation.bottleneck")
        result.bottleneck_mean = at_best.get("utilisation.bottleneck_mean")
    if target is not None and best is not None:
        if bar is not None and float(round(target, 6)) not in cache:
            bar.total += study.replications
        evaluate(target)
        result.points = _points(cache, slos)
        result.headroom = best / target - 1.0
    if bar is not None:
        bar.total = bar.n  # the search ended before its worst case: the bar ends full
        bar.refresh()
        bar.close()
    return result


def _mean_row(rows: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in rows.columns:
        values = rows[column]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().any() and numeric.notna().sum() == values.notna().sum():
            out[column] = float(numeric.mean())
        else:
            mode = values.dropna().mode()
            out[column] = mode.iloc[0] if len(mode) else None
    return out


def _points(cache: dict[float, dict[str, Any]], slos: list[Any]) -> pd.DataFrame:
    from workbench.analysis.capacity import slo_value

    records = []
    for rate in sorted(cache):
        row = cache[rate]
        record = {"rate": rate, "throughput": row.get("throughput_ops_per_s")}
        for slo in slos:
            record[slo.metric] = slo_value(row, slo.metric)
        record["bottleneck"] = row.get("utilisation.bottleneck")
        record["bottleneck_utilisation"] = row.get("utilisation.bottleneck_mean")
        record["meets"] = row["meets"]
        records.append(record)
    return pd.DataFrame(records)
