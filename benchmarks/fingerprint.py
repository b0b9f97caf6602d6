"""Fingerprints of every shipped scenario's and study's results: proof that a refactor changes
no result (issue 22: "every scenario and study gives the same results as before").

    python -m benchmarks.fingerprint save outputs/fingerprint-before.json
    ... refactor ...
    python -m benchmarks.fingerprint check outputs/fingerprint-before.json

Each case is one run: every ``scenarios/*.yaml`` as written, and every run of every study in
``scenarios/studies/`` (its variants, or its grid). A run's fingerprint is its flattened
summary (values, so a difference says which figure moved) and a hash of each column of its
ops, events, timeseries and replication tables. ``check`` compares column by column: a column
only one side has is reported (the events table may gain structured columns) but is not a
difference; every column both sides have must be identical, as must the summary.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("ops", "events", "timeseries", "replication")
VOLATILE = ("wall_seconds",)  # figures of the machine, not of the model


def cases() -> list[tuple[str, str, int]]:
    """(label, file, index of the run within the file); index -1: a scenario file."""
    from workbench.study import compare_specs, load_study, sweep_specs

    out = [(path.stem, str(path), -1) for path in sorted((ROOT / "scenarios").glob("*.yaml"))]
    for path in sorted((ROOT / "scenarios" / "studies").glob("*.yaml")):
        study = load_study(path)
        specs = compare_specs(study) if study.variants else sweep_specs(study)
        out += [(f"{path.stem}/{spec.variant}/rep{spec.replication}", str(path), i) for i, spec in enumerate(specs)]
    return out


def _column_hash(column: pd.Series) -> str:
    values = pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes()
    return hashlib.sha256(str(column.dtype).encode() + values).hexdigest()[:16]


def fingerprint(case: tuple[str, str, int]) -> dict[str, Any]:
    """Run one case and fingerprint its results."""
    from workbench.experiment import run
    from workbench.scenario.load import load_scenario
    from workbench.study import compare_specs, flatten, load_study, sweep_specs

    label, file, index = case
    if index < 0:
        scenario = load_scenario(file)
    else:
        study = load_study(file)
        spec = (compare_specs(study) if study.variants else sweep_specs(study))[index]
        scenario = study.scenario(spec.factors, seed=spec.seed)
    result = run(scenario)
    summary = {k: v for k, v in flatten(result.summary()).items() if k.split(".")[-1] not in VOLATILE}
    tables = {}
    for name in TABLES:
        frame = getattr(result, name)
        tables[name] = {"rows": len(frame), "columns": {str(c): _column_hash(frame[c]) for c in frame.columns}}
    return {"label": label, "ok": result.ok, "summary": json.loads(json.dumps(summary, default=str)), "tables": tables}


def fingerprints(workers: int) -> dict[str, Any]:
    from tqdm import tqdm

    todo = cases()
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        done = list(tqdm(pool.map(fingerprint, todo), total=len(todo), desc="fingerprints", file=sys.stderr))
    return {item["label"]: item for item in done}


def differences(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(differences, notes): what changed, and columns or cases only one side has."""
    diffs: list[str] = []
    notes: list[str] = []
    for label in sorted(set(before) | set(after)):
        if label not in after or label not in before:
            diffs.append(f"{label}: only in the {'before' if label in before else 'after'} fingerprints")
            continue
        b, a = before[label], after[label]
        if b["ok"] != a["ok"]:
            diffs.append(f"{label}: ok {b['ok']} -> {a['ok']}")
        for key in sorted(set(b["summary"]) | set(a["summary"])):
            if b["summary"].get(key) != a["summary"].get(key):
                diffs.append(f"{label}: summary {key}: {b['summary'].get(key)!r} -> {a['summary'].get(key)!r}")
        for name in TABLES:
            tb, ta = b["tables"][name], a["tables"][name]
            if tb["rows"] != ta["rows"]:
                diffs.append(f"{label}: {name} has {tb['rows']} rows before, {ta['rows']} after")
            for column in sorted(set(tb["columns"]) | set(ta["columns"])):
                if column not in tb["columns"] or column not in ta["columns"]:
                    side = "after" if column in ta["columns"] else "before"
                    notes.append(f"{name}.{column} only {side}")
                elif tb["columns"][column] != ta["columns"][column]:
                    diffs.append(f"{label}: {name}.{column} differs")
    return diffs, sorted(set(notes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fingerprint", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["save", "check"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    now = fingerprints(args.workers)
    if args.action == "save":
        args.file.parent.mkdir(parents=True, exist_ok=True)
        args.file.write_text(json.dumps(now, indent=1, sort_keys=True))
        print(f"{len(now)} runs fingerprinted in {args.file}")
        return 0
    diffs, notes = differences(json.loads(args.file.read_text()), now)
    for note in notes:
        print(f"note: {note}")
    for diff in diffs:
        print(diff)
    print(f"{len(now)} runs: {'identical' if not diffs else f'{len(diffs)} differences'}")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
