"""The ``workbench`` command.

    workbench run SCENARIO [--seed N] [--duration D] [--set PATH=VALUE ...] [--json] [--out DIR]
    workbench blueprints [NAME] [--json]

Exit codes: 0 success, 1 the simulation itself failed, 2 bad input (a one-line
reason on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench import __version__
from workbench.errors import WorkbenchInputError

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other input error
        self.exit(EXIT_BAD_INPUT, f"workbench: error: {message} (see 'workbench {self.prog.split()[-1]} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="workbench", description="Simulate RavenDB deployments before you build them.")
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run one scenario and print its summary")
    run.add_argument("scenario", help="scenario YAML file, e.g. scenarios/quickstart.yaml")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--duration", help="override the simulated duration, e.g. '30 s'")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override any field by dotted path, e.g. --set workload.rate=2000 (repeatable)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--out", type=Path, help="write ops/events/timeseries/replication parquet + summary.json here")
    prog = run.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None, help="show a progress bar")
    prog.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")

    val = sub.add_parser("validate", help="check the model against theory and published results")
    checks = val.add_subparsers(dest="check", required=True, parser_class=_Parser)
    raft = checks.add_parser(
        "raft-election",
        help="the leader-election experiment of the Raft paper (Figure 16)",
        description="Crash the leader of a 5-server cluster many times and measure the time until the "
        "survivors hear a new leader (Ongaro & Ousterhout, USENIX ATC 2014, Figure 16).",
    )
    raft.add_argument("--timeout-range", default="150-300ms", help="election timeout range, e.g. 150-300ms")
    raft.add_argument("--trials", type=int, default=1000, help="number of trials (default 1000)")
    raft.add_argument("--one-way-latency", default="7.5ms", help="one-way network latency (default 7.5ms)")
    raft.add_argument("--fsync", default="0ms", help="time to persist a vote or an entry (default 0ms)")
    raft.add_argument("--prevote", choices=["on", "off"], default="off", help="trial elections (default off)")
    raft.add_argument("--seed", type=int, default=1)
    raft.add_argument("--json", action="store_true", help="print the distribution as one JSON object")

    bps = sub.add_parser("blueprints", help="list the built-in topology blueprints")
    bps.add_argument("name", nargs="?", help="show one blueprint in full")
    bps.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        return _blueprints(args)
    except WorkbenchInputError as err:
        print(f"workbench: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from workbench.analysis.summary import summarise
    from workbench.experiment import run
    from workbench.report.text import format_summary
    from workbench.scenario.load import load_scenario

    scenario = load_scenario(args.scenario, args.overrides, seed=args.seed, duration=args.duration)
    progress = sys.stderr.isatty() and not args.json if args.progress is None else args.progress
    result = run(scenario, progress=progress)
    summary = summarise(result)
    if args.out is not None:
        try:
            result.to_dir(args.out)
        except OSError as exc:
            msg = f"cannot write results: {exc}"
            raise WorkbenchInputError(msg, source=f"--out {args.out}") from None
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary))
        if args.out is not None:
            print(f"\nResults written to {args.out}/")
    if not result.ok:
        print(f"workbench: the simulation failed: {result.provenance['exception']}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def _duration_arg(text: str, option: str) -> float:
    from workbench.scenario.units import parse_quantity

    try:
        return parse_quantity(text, "duration")
    except ValueError as exc:
        raise WorkbenchInputError(str(exc), source=option) from None


def _validate(args: argparse.Namespace) -> int:
    from workbench.validation.raft_election import (
        PAPER_150_300_MS,
        ElectionSetup,
        run_election_experiment,
        summarise_downtimes,
    )

    text = args.timeout_range.replace(" ", "")
    low_text, sep, high_text = text.partition("-")
    unit = "".join(ch for ch in high_text if ch.isalpha()) or "ms"
    if not sep or not low_text:
        msg = f"'{args.timeout_range}' is not a range; write it like 150-300ms"
        raise WorkbenchInputError(msg, source="--timeout-range")
    if not any(ch.isalpha() for ch in low_text):
        low_text += unit
    low = _duration_arg(low_text, "--timeout-range")
    high = _duration_arg(high_text, "--timeout-range")
    if not 0 < low <= high:
        msg = f"'{args.timeout_range}' needs 0 < min <= max"
        raise WorkbenchInputError(msg, source="--timeout-range")
    if args.trials < 1:
        msg = f"{args.trials} trials: run at least one"
        raise WorkbenchInputError(msg, source="--trials")
    setup = ElectionSetup(
        timeout_min=low,
        timeout_max=high,
        one_way_latency=_duration_arg(args.one_way_latency, "--one-way-latency"),
        fsync=_duration_arg(args.fsync, "--fsync"),
        prevote=args.prevote == "on",
    )
    stats = summarise_downtimes(run_election_experiment(setup, args.trials, args.seed))
    if args.json:
        print(json.dumps(stats))
        return EXIT_OK
    paper = PAPER_150_300_MS if (round(low, 6), round(high, 6)) == (0.15, 0.3) else {}
    print(f"Raft leader election, 5 servers, timeouts {low * 1e3:g}-{high * 1e3:g} ms, {stats['trials']} trials")
    print(f"{'':<6}{'model (ms)':>12}{'paper (ms)':>12}")
    for key in ("p10", "p25", "p50", "p75", "p90", "p99", "max", "mean"):
        ref = paper.get(key)
        print(f"{key:<6}{stats[key]:>12,.1f}{(f'{ref:,.1f}' if ref else '-'):>12}")
    return EXIT_OK


def _blueprints(args: argparse.Namespace) -> int:
    import yaml

    from workbench.blueprints import blueprint_names, load_blueprint_data
    from workbench.errors import did_you_mean, one_of
    from workbench.report.text import format_blueprints

    names = blueprint_names()
    if args.name:
        if args.name not in names:
            hint = did_you_mean(args.name, names)
            msg = f"'{args.name}' is not a built-in blueprint{hint}; known: {one_of(names)}"
            raise WorkbenchInputError(msg, source="workbench blueprints")
        data = load_blueprint_data(args.name)
        print(json.dumps(data, indent=2) if args.json else yaml.safe_dump(data, sort_keys=False).rstrip())
        return EXIT_OK
    rows = []
    for name in names:
        data = load_blueprint_data(name)
        description = " ".join(str(data.get("description", "")).split())
        rows.append(
            {
                "name": name,
                "nodes": len(data.get("nodes", [])),
                "replication_factor": data.get("database", {}).get("replication_factor", 3),
                "summary": description.split(". ")[0].rstrip(".") + ".",
                "description": description,
            }
        )
    print(json.dumps(rows, indent=2) if args.json else format_blueprints(rows))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
