"""Studies: the same workload and fault plan over several variants, replicated, in parallel.

A *study* is a base scenario plus what varies: a list of named variants (for
``compare``) or a grid of factors (for ``sweep``), and a number of replications.
Each run is a :class:`RunSpec`: the overrides that make its variant, and a seed.
Replication r of every variant uses the same seed (the base seed + r), so variants
see the same arrivals and fault draws (common random numbers) and their
differences are not noise from different draws.

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
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workbench.errors import WorkbenchInputError
from workbench.scenario.load import parse_yaml, scenario_from_dict

# Fields that depend on the machine, not the model: left out so datasets match across executors.
MACHINE_FIELDS = ("wall_seconds",)


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
    name: str
    base: dict[str, Any]
    source: str
    base_dir: str | None
    replications: int = 5
    variants: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def scenario(self, factors: Iterable[tuple[str, Any]] = (), seed: int | None = None) -> Any:
        return scenario_from_dict(
            self.base, source=self.source, base_dir=self.base_dir, overrides=dict(factors), seed=seed
        )

    @property
    def base_seed(self) -> int:
        return int(self.base.get("seed", 1))


# ----------------------------------------------------------------------------- building studies


def study_from_scenario(
    path: str | Path,
    *,
    blueprints: Iterable[str] = (),
    replications: int = 5,
    overrides: Mapping[str, Any] | None = None,
) -> Study:
    """A comparison study from a plain scenario file: one variant per blueprint (or just the scenario)."""
    path = Path(path)
    base = _read_mapping(path)
    for key, value in (overrides or {}).items():
        _set(base, key, value)
    variants = tuple((name, (("blueprint", name),)) for name in blueprints) or ((str(base.get("name", "base")), ()),)
    study = Study(
        name=str(base.get("name", path.stem)),
        base=base,
        source=str(path),
        base_dir=str(path.parent),
        replications=replications,
        variants=variants,
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
    if isinstance(scenario, str):
        scenario_path = (path.parent / scenario).resolve()
        base = _read_mapping(scenario_path)
        base_dir, base_source = str(scenario_path.parent), str(scenario_path)
    elif isinstance(scenario, Mapping):
        base, base_dir, base_source = dict(scenario), str(path.parent), source
    else:
        msg = "a study needs 'scenario': a scenario file (relative to the study) or an inline scenario"
        raise WorkbenchInputError(msg, source=source, path="scenario")
    reps = replications if replications is not None else data.get("replications", 5)
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        msg = f"replications must be a whole number of at least 1, got {reps!r}"
        raise WorkbenchInputError(msg, source=source, path="replications")
    variants = []
    for i, item in enumerate(data.get("variants") or []):
        if not isinstance(item, Mapping) or "name" not in item:
            msg = "each variant is a mapping with a 'name' and 'set' (dotted paths to values)"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}]")
        unknown = set(item) - {"name", "set"}
        if unknown:
            msg = f"unknown key '{sorted(unknown)[0]}' in a variant; allowed: name, set"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}]")
        sets = item.get("set") or {}
        if not isinstance(sets, Mapping):
            msg = "'set' maps dotted paths to values, e.g. {blueprint: five-node, workload.rate: 2000}"
            raise WorkbenchInputError(msg, source=source, path=f"variants[{i}].set")
        variants.append((str(item["name"]), tuple(sets.items())))
    names = [v[0] for v in variants]
    for i, name in enumerate(names):
        if names.count(name) > 1:
            raise WorkbenchInputError(f"variant '{name}' is named twice", source=source, path=f"variants[{i}].name")
    grid = []
    for key, values in (data.get("grid") or {}).items():
        if not isinstance(values, list) or not values:
            msg = f"a grid factor lists its values, e.g. {key}: [500, 1000], got {values!r}"
            raise WorkbenchInputError(msg, source=source, path=f"grid.{key}")
        grid.append((str(key), tuple(values)))
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
    """Every variant × replication, replication r of each variant on seed base + r."""
    specs = []
    for r in range(study.replications):
        for name, factors in study.variants:
            specs.append(RunSpec(len(specs), name, factors, r, study.base_seed + r))
    return specs


def sweep_specs(study: Study) -> list[RunSpec]:
    """Every grid point (× each variant, if any) × replication."""
    points = _grid_points(study) or [()]
    variants = study.variants or (("", ()),)
    specs = []
    for r in range(study.replications):
        for name, vfactors in variants:
            for point in points:
                label = " ".join(f"{k}={v}" for k, v in point)
                specs.append(
                    RunSpec(
                        len(specs), " ".join(x for x in (name, label) if x), vfactors + point, r, study.base_seed + r
                    )
                )
    return specs


# ----------------------------------------------------------------------------- running


def execute(study: Study, spec: RunSpec, out_dir: str | None = None) -> dict[str, Any]:
    """Run one spec and return its row: flattened summary, factors, seed, variant.

    Module-level and free of open handles, so processes and Dask workers can run it."""
    from workbench.experiment import run

    scenario = study.scenario(spec.factors, seed=spec.seed)
    result = run(scenario)
    if out_dir is not None:
        result.to_dir(Path(out_dir) / _slug(spec.variant) / f"rep{spec.replication}")
    row: dict[str, Any] = {"run": spec.index, "variant": spec.variant, "replication": spec.replication}
    row.update({f"factor.{k}": _scalar(v) for k, v in spec.factors})
    clusters = getattr(scenario.blueprint, "clusters", None) or [scenario.blueprint]  # a deployment: every cluster
    row["nodes"] = sum(len(c.nodes) for c in clusters)
    row["copies"] = sum(c.database.replication_factor for c in clusters)
    row.update(flatten(result.summary()))
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
    bar = _bar(len(specs), study.name) if progress else None
    rows: dict[int, dict[str, Any]] = {}

    def done(row: dict[str, Any]) -> None:
        rows[row["run"]] = row
        if bar is not None:
            bar.update(1)
        if on_row is not None:
            on_row(row)

    try:
        if executor == "serial" or len(specs) <= 1:
            for spec in specs:
                done(execute(study, spec, out))
        elif executor == "processes":
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
                futures = [pool.submit(execute, study, spec, out) for spec in specs]
                for future in as_completed(futures):
                    done(future.result())
        elif executor == "dask":
            _run_dask(study, specs, out, scheduler, dask_local, done)
        else:
            msg = f"unknown executor '{executor}'; use serial, processes or dask"
            raise WorkbenchInputError(msg, source="workbench")
    finally:
        if bar is not None:
            bar.close()
    table = pd.DataFrame([rows[i] for i in sorted(rows)])
    return table


def _run_dask(study, specs, out, scheduler, dask_local, done) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is a declared dependency
        msg = "the dask executor needs dask.distributed (pip install 'dask[distributed]')"
        raise WorkbenchInputError(msg, source="workbench") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=dask_local or 1, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client:
            futures = client.map(execute, [study] * len(specs), specs, [out] * len(specs), pure=False)
            for future in as_completed(futures):
                done(future.result())
    finally:
        if cluster is not None:
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
    data = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(data, Mapping):
        raise WorkbenchInputError("expected a mapping of keys to values", source=str(path))
    return dict(data)


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _scalar(value: Any) -> Any:
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "base"


# ----------------------------------------------------------------------------- capacity


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
    capped: bool = False  # every load up to the top of the range met the objectives

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_rate": self.max_rate,
            "objectives": self.objectives,
            "target": self.target,
            "headroom": self.headroom,
            "bottleneck": self.bottleneck,
            "bottleneck_utilisation": self.bottleneck_mean,
            "capped": self.capped,
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
    progress: bool = True,
    factors: tuple[tuple[str, Any], ...] = (),
    **executor: Any,
) -> CapacityResult:
    """The highest ``workload.rate`` in ``[low, high]`` at which the mean over the study's
    replications meets every objective (``p99_write_ms<=50``, ``availability>=99.9%``).

    The search doubles from ``low`` until an objective fails (or ``high``), then bisects
    (geometrically) until the bracket is within ``tolerance``; each rate runs the
    study's replications with common random numbers. Throughput is monotone in
    the offered load up to saturation, which is what makes bisection sound."""
    from workbench.analysis.capacity import parse_slo

    slos = [parse_slo(text) for text in objectives]
    cache: dict[float, dict[str, Any]] = {}

    def evaluate(rate: float) -> dict[str, Any]:
        rate = float(round(rate, 6))
        if rate not in cache:
            specs = [
                RunSpec(r, f"rate={rate:g}", (*factors, ("workload.rate", rate)), r, study.base_seed + r)
                for r in range(study.replications)
            ]
            rows = run_specs(study, specs, progress=progress, **executor)
            mean = _mean_row(rows)
            mean["rate"] = rate
            mean["meets"] = all(slo.met(mean) for slo in slos)
            cache[rate] = mean
        return cache[rate]

    best: float | None = None
    lo = low
    if evaluate(lo)["meets"]:
        best = lo
        hi = None
        rate = lo
        while rate < high:
            rate = min(rate * 2, high)
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
    result.capped = best is not None and best >= high
    if best is not None:
        at_best = cache[float(round(best, 6))]
        result.bottleneck = at_best.get("utilisation.bottleneck")
        result.bottleneck_mean = at_best.get("utilisation.bottleneck_mean")
    if target is not None and best is not None:
        evaluate(target)
        result.points = _points(cache, slos)
        result.headroom = best / target - 1.0
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
