"""The ``workbench`` command.

    workbench run SCENARIO [--seed N] [--duration D] [--set PATH=VALUE ...] [--json] [--out DIR]
    workbench blueprints [NAME] [--json]
    workbench compare SCENARIO|STUDY [--blueprints a,b,c] [--replications R] [--set ...] [--json] [--out DIR]
    workbench sweep STUDY [--replications R] [--out DIR]
    workbench capacity SCENARIO --slo 'p99_write_ms<=50' [--slo ...] [--range LOW HIGH] [--target RATE]
    workbench report STUDY -o report.html [--format html|md]
    workbench validate [NAME ...] [--quick] [--json] [--list]   # model-against-theory checks; no NAME: all
    workbench validate raft-election [--trials N] [--timeout-range 150-300ms] [--one-way-latency D] [--fsync D]
                                     [--timer-wakeup D] [--prevote on|off] [--seed N]   # the Raft paper's experiment
    workbench bench [--quick] [--json] [--horizon D]            # speed and memory (also python -m benchmarks)

validate exits 1 if any check fails. NAME is a check from the registry in
workbench/validation/checks.py (mm1, mmc, md1, availability-1, availability-3,
availability-5, raft-election, raft-safety, t-visibility) or 'all'. Any of the experiment
options turns 'validate raft-election' into that experiment alone, as before.

Studies run in parallel: --workers N local processes (default one per core), --serial,
or Dask: --scheduler tcp://HOST:PORT for an existing cluster, --dask-local N for a local one.

Exit codes: 0 success, 1 the simulation itself failed, 2 bad input (a one-line
reason on stderr, never a traceback). Every verb's bad input, and an output file or
folder that cannot be written, reaches the one handler in :func:`main`. Warnings
(input that runs, but probably not as meant) go to stderr as ``workbench: warning: ...``, and
so do a run's own warnings (also in its summary), unless the text summary on a terminal shows them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchInputError, WorkbenchWarning
from workbench.version import __version__

if TYPE_CHECKING:  # imported where used, so that `workbench --help` starts fast
    import pandas as pd

    from workbench.study import RunSpec, Study

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other input error
        """Bad usage: one line on stderr and exit 2, like every other input error."""
        self.exit(EXIT_BAD_INPUT, f"workbench: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``workbench`` argument parser: one sub-command per verb of the module docstring."""
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
    _check_arg(run)
    prog = run.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None, help="show a progress bar")
    prog.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")

    val = sub.add_parser(
        "validate",
        help="check the model against theory and published results",
        description="Run model-against-theory checks and print expected vs simulated figures with confidence "
        "intervals; exit 1 if any check fails. 'raft-election' with any experiment option runs that experiment "
        "alone and prints its distribution.",
    )
    val.add_argument("names", nargs="*", metavar="NAME", help="checks to run (default: all; see --list)")
    val.add_argument("--list", action="store_true", help="list the checks and exit")
    val.add_argument("--quick", action="store_true", help="small settings (seconds, as the test suite runs them)")
    val.add_argument("--json", action="store_true", help="print the rows (or the distribution) as JSON")
    raft = val.add_argument_group(
        "raft-election experiment (the leader-election experiment of the Raft paper, Figure 16)",
        "Given with the single name raft-election, these run that experiment and print its distribution.",
    )
    raft.add_argument("--timeout-range", help="election timeout range, e.g. 150-300ms (default)")
    raft.add_argument("--trials", type=int, help="number of trials (default 1000)")
    raft.add_argument("--one-way-latency", help="one-way network latency, a duration or a distribution (default 0.1ms)")
    raft.add_argument(
        "--fsync",
        help="time of one persisted write (term, vote, entry), a duration or a distribution "
        "(default 'lognormal(mean=3 ms, sigma=0.5)')",
    )
    raft.add_argument(
        "--timer-wakeup",
        help="how late a timer thread wakes, a duration or a distribution (default 'uniform(0 ms, 0.1 ms)')",
    )
    raft.add_argument("--prevote", choices=["on", "off"], help="trial elections (default off)")
    raft.add_argument("--seed", type=int, help="default 1")
    raft.add_argument(
        "--chart",
        metavar="DIR",
        help="with the check (no experiment option): also write the CDFs of model and paper, as the paper draws "
        "them, to DIR/raft-election-randomness.svg and DIR/raft-election-scale.svg",
    )

    bench = sub.add_parser("bench", help="measure the simulator's speed and memory (benchmarks/)")
    bench.add_argument("--quick", action="store_true", help="tiny settings, a few seconds")
    bench.add_argument("--json", action="store_true", help="print the report as one JSON object")
    bench.add_argument(
        "--horizon",
        help="simulated time of the long-horizon run, e.g. '30 d' (default 365 d, or 1 d with --quick)",
    )

    bps = sub.add_parser("blueprints", help="list the built-in topology blueprints")
    bps.add_argument("name", nargs="?", help="show one blueprint: its notes and a drawing of its layout")
    bps.add_argument("--json", action="store_true", help="print JSON")

    cmp = sub.add_parser("compare", help="run variants side by side, replicated, with confidence intervals")
    cmp.add_argument("study", help="a scenario file (vary it with --blueprints) or a study file with variants")
    cmp.add_argument("--blueprints", help="comma-separated blueprints to compare, e.g. three-node,five-node")
    cmp.add_argument("--replications", type=int, help="runs per variant (default 5, or the study's)")
    cmp.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    cmp.add_argument("--json", action="store_true", help="print the table as JSON")
    cmp.add_argument("--out", type=Path, help="write runs.parquet, the table, and every run's tables here")
    _executor_args(cmp)
    _check_arg(cmp)

    swp = sub.add_parser("sweep", help="run a study's grid of factors and write one Parquet row per run")
    swp.add_argument("study", help="a study file with a grid (and optionally variants)")
    swp.add_argument("--replications", type=int, help="runs per grid point (default: the study's)")
    swp.add_argument("--out", type=Path, help="output directory (default outputs/sweep-NAME)")
    _executor_args(swp)
    _check_arg(swp)

    cap = sub.add_parser("capacity", help="find the highest load that meets service-level objectives")
    cap.add_argument("scenario", help="scenario file (its blueprint, workload mix and faults)")
    cap.add_argument("--slo", action="append", required=True, help="an objective, e.g. 'p99_write_ms<=50' (repeatable)")
    cap.add_argument("--range", nargs=2, type=float, metavar=("LOW", "HIGH"), default=(100.0, 100_000.0))
    cap.add_argument("--target", type=float, help="report the headroom at this load (ops/s)")
    cap.add_argument("--tolerance", type=float, default=0.05, help="stop when the bracket is this tight (default 5%%)")
    cap.add_argument("--replications", type=int, default=3, help="runs per load (default 3)")
    cap.add_argument(
        "--beyond",
        type=int,
        help="when every load in the range meets the objectives, double past its top this many times "
        "(default as a study's capacity.beyond, docs/studies.md; 0 stops at the top)",
    )
    cap.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    cap.add_argument("--json", action="store_true")
    _executor_args(cap)
    _check_arg(cap)

    rpt = sub.add_parser("report", help="run a study and write a self-contained capacity report")
    rpt.add_argument("study", help="a study file (variants, optionally a capacity section) or a scenario file")
    rpt.add_argument("-o", "--output", type=Path, required=True, help="report file, e.g. report.html or report.md")
    rpt.add_argument("--format", choices=["html", "md"], help="default: from the file's extension (html)")
    rpt.add_argument("--replications", type=int, help="runs per variant (default: the study's)")
    _executor_args(rpt)
    _check_arg(rpt)
    return parser


def _check_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the files, settings and output paths, then stop without running anything",
    )


def _checked(what: str) -> int:
    print(f"ok: {what}")
    return EXIT_OK


def _check_study(study: Study, specs: Sequence[RunSpec]) -> int:
    """Every run's scenario validated, as the runs would build them."""
    for spec in specs:
        study.scenario(spec.factors, seed=spec.seed)
    return _checked(f"{study.name}: {len(specs)} runs")


def _executor_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    group.add_argument("--serial", action="store_true", help="run one after another in this process")
    group.add_argument("--scheduler", help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    group.add_argument("--dask-local", type=int, metavar="N", help="run on a local Dask cluster of N workers")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=True)


def _executor(args: argparse.Namespace) -> dict:
    if args.serial:
        return {"executor": "serial"}
    if args.dask_local is not None and args.dask_local < 1:
        raise WorkbenchInputError(
            f"a local Dask cluster needs at least 1 worker, got {args.dask_local}", source="--dask-local"
        )
    if args.scheduler is not None:
        if not args.scheduler.strip():
            raise WorkbenchInputError("give the scheduler's address, e.g. tcp://10.0.0.5:8786", source="--scheduler")
        return {"executor": "dask", "scheduler": args.scheduler.strip(), "dask_local": None}
    if args.dask_local:
        return {"executor": "dask", "scheduler": None, "dask_local": args.dask_local}
    if args.workers is not None and args.workers < 1:
        raise WorkbenchInputError(f"--workers must be at least 1, got {args.workers}", source="workbench")
    return {"executor": "processes", "workers": args.workers}


def _replications(args: argparse.Namespace) -> None:
    from workbench.study import MAX_REPLICATIONS

    if args.replications is not None and not 1 <= args.replications <= MAX_REPLICATIONS:
        msg = f"1 to {MAX_REPLICATIONS:,} runs per variant, got {args.replications}"
        raise WorkbenchInputError(msg, source=f"workbench {args.command} --replications")


@contextlib.contextmanager
def _writing(option: str, path: Path) -> Iterator[None]:
    """Any OSError while writing results becomes one clear line naming the option and path."""
    try:
        yield
    except OSError as exc:
        raise WorkbenchInputError(f"cannot write there: {_reason(exc)}", source=f"{option} {path}") from None


def _reason(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _output_folder(path: Path | None, option: str) -> None:
    """Create an output folder and check it takes files, before anything runs."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise WorkbenchInputError("is a file; name a folder for the results", source=f"{option} {path}")
    _no_file_above(path, option)
    with _writing(option, path):
        path.mkdir(parents=True, exist_ok=True)
        _probe(path)


def _probe(folder: Path) -> None:
    """Write and delete a scratch file in ``folder``: it takes files (an OSError naming it if not)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(folder)) from None


def _no_file_above(folder: Path, option: str, named: Path | None = None) -> None:
    """The nearest existing folder above ``folder`` must be a folder, not a file."""
    for above in (folder, *folder.parents):
        if above.exists():
            if not above.is_dir():
                msg = f"'{above}' is a file, not a folder, so nothing can be written under it"
                raise WorkbenchInputError(msg, source=f"{option} {named or folder}")
            return


def _output_file(path: Path, option: str) -> None:
    """Check a report file can be written (its folder created), before anything runs."""
    if path.is_dir():
        raise WorkbenchInputError("is a folder; name a file, e.g. report.html", source=f"{option} {path}")
    _no_file_above(path.parent, option, path)
    with _writing(option, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _probe(path.parent)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "Permission denied", str(path))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workbench`` command: parse ``argv`` and run the verb; returns the exit code.

    Workbench warnings are printed as one ``workbench: warning: ...`` line each, every time."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the verb's own parser, so the hint names the verb's help
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    with warnings.catch_warnings():
        default = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            """Print a workbench warning as one line on stderr; any other warning as Python would."""
            if issubclass(category, WorkbenchWarning):
                print(f"workbench: warning: {message}", file=sys.stderr)
            else:
                default(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        warnings.simplefilter("always", WorkbenchWarning)
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    """The one place where bad input (and an output that cannot be written) becomes exit 2."""
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "bench":
            return _bench(args)
        if args.command == "compare":
            return _compare(args)
        if args.command == "sweep":
            return _sweep(args)
        if args.command == "capacity":
            return _capacity(args)
        if args.command == "report":
            return _report(args)
        return _blueprints(args)
    except WorkbenchInputError as err:
        print(f"workbench: error: {_one_line(str(err))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:
        if exc.filename is None:
            raise
        # A file the user named (or a folder under it) that cannot be read or written.
        print(f"workbench: error: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _one_line(text: str) -> str:
    """An error is one line, whatever the user's value held (a newline, a carriage return)."""
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]", lambda m: m.group().encode("unicode_escape").decode(), text)


def _run(args: argparse.Namespace) -> int:
    from workbench.analysis.summary import summarise
    from workbench.experiment import run
    from workbench.report.text import format_summary
    from workbench.scenario.load import load_scenario

    scenario = load_scenario(args.scenario, args.overrides, seed=args.seed, duration=args.duration)
    _output_folder(args.out, "--out")
    if args.check:
        return _checked(f"{scenario.name} (blueprint, clients, workload and {len(scenario.faults)} faults)")
    progress = sys.stderr.isatty() and not args.json if args.progress is None else args.progress
    result = run(scenario, progress=progress)
    summary = summarise(result)
    if args.out is not None:
        with _writing("--out", args.out):
            result.to_dir(args.out)
    # The text summary lists its warnings; stderr gets them too unless that would show them twice.
    if args.json or not sys.stdout.isatty():
        _warn(summary["warnings"])
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


MAX_LISTED_WARNINGS = 5


def _warn(messages: Sequence[str]) -> None:
    """Through the one warning printer :func:`main` installs (``workbench: warning: ...``)."""
    for message in messages:
        warnings.warn(message, WorkbenchWarning, stacklevel=2)


def _warn_runs(rows: pd.DataFrame) -> None:
    """The runs' own warnings (operations left waiting, a trace that replayed nothing...), one
    line a run, at most a few, on stderr; every one is in the rows' ``warnings`` column."""
    noted = [
        f"'{row['variant']}' replication {row['replication']}: {text}"
        for row in rows.to_dict("records")
        for text in str(row.get("warnings") or "").splitlines()
    ]
    _warn(noted[:MAX_LISTED_WARNINGS])
    if len(noted) > MAX_LISTED_WARNINGS:
        _warn([f"{len(noted) - MAX_LISTED_WARNINGS} more like these; see the 'warnings' column of the runs"])


def _duration_arg(text: str, option: str) -> float:
    from workbench.scenario.units import parse_quantity

    try:
        return parse_quantity(text, "duration")
    except ValueError as exc:
        raise WorkbenchInputError(str(exc), source=option) from None


_RAFT_OPTIONS = ("timeout_range", "trials", "one_way_latency", "fsync", "timer_wakeup", "prevote", "seed")


def _validate(args: argparse.Namespace) -> int:
    from workbench.validation.checks import CHECKS, format_rows, resolve, run_checks

    experiment = [name for name in _RAFT_OPTIONS if getattr(args, name) is not None]
    if experiment:
        if args.names != ["raft-election"] or args.quick or args.list:
            flag = "--" + experiment[0].replace("_", "-")
            msg = f"{flag} configures the Raft experiment: use it as 'workbench validate raft-election {flag} ...'"
            raise WorkbenchInputError(msg, source="workbench validate")
        return _raft_experiment(args)
    if args.chart is not None and args.names != ["raft-election"]:
        msg = "--chart draws the Raft election check: use it as 'workbench validate raft-election --chart DIR'"
        raise WorkbenchInputError(msg, source="workbench validate")
    if args.list:
        for check in CHECKS.values():
            print(f"{check.name:<16}{check.title} ({check.source})")
        return EXIT_OK
    rows = run_checks(resolve(args.names), quick=args.quick)
    print(json.dumps(rows) if args.json else format_rows(rows))
    if args.chart is not None:
        for path in _election_charts(Path(args.chart)):
            print(f"wrote {path}", file=sys.stderr)
    failed = sorted({r["check"] for r in rows if not r["passed"]})
    if failed:
        print(f"workbench: failed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def _raft_experiment(args: argparse.Namespace) -> int:
    from workbench.validation.raft_election import (
        ElectionSetup,
        figure16,
        paper_summary,
        range_name,
        run_election_experiment,
        summarise_downtimes,
    )

    timeout_range = args.timeout_range or "150-300ms"
    trials = 1000 if args.trials is None else args.trials
    text = timeout_range.replace(" ", "")
    low_text, sep, high_text = text.partition("-")
    unit = "".join(ch for ch in high_text if ch.isalpha()) or "ms"
    if not sep or not low_text:
        msg = f"'{timeout_range}' is not a range; write it like 150-300ms"
        raise WorkbenchInputError(msg, source="--timeout-range")
    if not any(ch.isalpha() for ch in low_text):
        low_text += unit
    low = _duration_arg(low_text, "--timeout-range")
    high = _duration_arg(high_text, "--timeout-range")
    if not 0 < low <= high:
        msg = f"'{timeout_range}' needs 0 < min <= max"
        raise WorkbenchInputError(msg, source="--timeout-range")
    if trials < 1:
        msg = f"{trials} trials: run at least one"
        raise WorkbenchInputError(msg, source="--trials")
    default = ElectionSetup()
    setup = ElectionSetup(
        timeout_min=low,
        timeout_max=high,
        one_way_latency=_delay_arg(args.one_way_latency, "--one-way-latency", default.one_way_latency),
        fsync=_delay_arg(args.fsync, "--fsync", default.fsync),
        timer_wakeup=_delay_arg(args.timer_wakeup, "--timer-wakeup", default.timer_wakeup),
        prevote=args.prevote == "on",
    )
    stats = summarise_downtimes(run_election_experiment(setup, trials, 1 if args.seed is None else args.seed))
    if args.json:
        print(json.dumps(stats))
        return EXIT_OK
    name = range_name(low, high)
    paper = paper_summary(name) if name in figure16() else {}
    print(f"Raft leader election, 5 servers, timeouts {name} ms, {stats['trials']} trials")
    print(f"{'':<6}{'model (ms)':>12}{'paper (ms)':>12}")
    for key in ("p10", "p25", "p50", "p75", "p90", "p99", "max", "mean"):
        ref = paper.get(key)
        print(f"{key:<6}{stats[key]:>12,.1f}{(f'{ref:,.1f}' if ref else '-'):>12}")
    if stats["censored"]:
        print(f"{stats['censored']} trials had no leader after {setup.give_up_after:g} s (counted as infinite)")
    return EXIT_OK


def _election_charts(folder: Path) -> list[Path]:
    """The two graphs of Figure 16, model against paper, as SVG (rendered offline)."""
    import vl_convert as vlc

    from workbench.charts import election_cdf, spec
    from workbench.validation.raft_election import RANDOMNESS_RANGES, SCALE_RANGES, figure16, figure16_run

    _output_folder(folder, "--chart")
    written = []
    for label, ranges, log_x in (("randomness", RANDOMNESS_RANGES, True), ("scale", SCALE_RANGES, False)):
        curves = {
            "paper": {name: figure16()[name] for name in ranges},
            "model": {name: figure16_run(name) * 1e3 for name in ranges},
        }
        title = f"Figure 16, timeouts of varying {label}"
        path = folder / f"raft-election-{label}.svg"
        with _writing("--chart", folder):
            path.write_text(vlc.vegalite_to_svg(spec(election_cdf(curves, log_x=log_x, title=title))), encoding="utf-8")
        written.append(path)
    return written


def _delay_arg(text: str | None, option: str, default: float | str | None) -> float | str | None:
    """A duration ('7.5ms') as seconds, or a distribution's text after checking it parses."""
    from workbench.scenario.distributions import parse_distribution

    if text is None:
        return default
    if "(" not in text:
        return _duration_arg(text, option)
    try:
        dist = parse_distribution(text)
    except ValueError as exc:
        raise WorkbenchInputError(str(exc), source=option) from None
    if dist.mean() < 0:
        raise WorkbenchInputError(f"'{text}' can be negative; a delay cannot", source=option)
    return text


def _bench(args: argparse.Namespace) -> int:
    from workbench.validation.speed import format_report, run_benchmarks

    horizon = _duration_arg(args.horizon, "--horizon") if args.horizon else None
    if horizon is not None and horizon <= 0:
        raise WorkbenchInputError(f"'{args.horizon}' must be longer than zero", source="--horizon")
    report = run_benchmarks(quick=args.quick, horizon_s=horizon)
    print(json.dumps(report) if args.json else format_report(report))
    return EXIT_OK


def _blueprints(args: argparse.Namespace) -> int:
    import yaml

    from workbench.blueprints import blueprint_names, is_deployment, load_blueprint_data, node_count
    from workbench.errors import did_you_mean, one_of
    from workbench.report.text import format_blueprints

    names = blueprint_names()
    if args.name:
        if args.name not in names:
            hint = did_you_mean(args.name, names)
            msg = f"'{args.name}' is not a built-in blueprint{hint}; known: {one_of(names)}"
            raise WorkbenchInputError(msg, source="workbench blueprints")
        data = load_blueprint_data(args.name)
        if args.json:
            print(json.dumps(data, indent=2))
            return EXIT_OK
        from workbench.report.text import format_blueprint, format_deployment
        from workbench.scenario import scenario_from_dict

        scenario = scenario_from_dict({"name": args.name, "blueprint": args.name}, source=f"blueprint {args.name}")
        if is_deployment(data):
            print(format_deployment(scenario.blueprint, scenario.clients if "clients" in data else None))
        else:
            print(format_blueprint(scenario.blueprint, scenario.clients if "clients" in data else None))
        print("\nAs YAML (use it with 'blueprint: NAME', or 'blueprint: {extends: NAME, ...}'):\n")
        print(yaml.safe_dump(data, sort_keys=False).rstrip())
        return EXIT_OK
    from workbench.scenario import scenario_from_dict

    rows = []
    for name in names:
        data = load_blueprint_data(name)
        description = " ".join(str(data.get("description", "")).split())
        bp = scenario_from_dict({"name": name, "blueprint": name}, source=f"blueprint {name}").blueprint
        databases = (bp.clusters[0] if is_deployment(data) else bp).all_databases()  # type: ignore[union-attr]
        rows.append(
            {
                "name": name,
                "nodes": node_count(data),
                "clusters": len(data["clusters"]) if is_deployment(data) else 1,
                "replication_factor": databases[0].replication_factor,
                "databases": len(databases),
                "replication_factors": sorted({db.replication_factor for db in databases}),
                # The first sentence ("N. Virginia" is not a sentence end).
                "summary": re.split(r"(?<![A-Z])\. ", description)[0].rstrip(".") + ".",
                "description": description,
            }
        )
    print(json.dumps(rows, indent=2) if args.json else format_blueprints(rows))
    return EXIT_OK


def _overrides(pairs: list[str]) -> dict:
    from workbench.scenario.load import parse_overrides

    return {path: value for path, value, _ in parse_overrides(pairs)}


def _compare(args: argparse.Namespace) -> int:
    from workbench.study import compare_specs, compare_table, format_compare, load_study, run_specs, study_from_scenario

    _replications(args)
    if args.blueprints is not None:
        names = [n.strip() for n in args.blueprints.split(",") if n.strip()]
        if not names:
            msg = f"'{args.blueprints}' names no blueprint; list them, e.g. --blueprints three-node,five-node"
            raise WorkbenchInputError(msg, source="workbench compare --blueprints")
        for name in names:
            if names.count(name) > 1:
                msg = f"'{name}' is listed twice in '{args.blueprints}'"
                raise WorkbenchInputError(msg, source="workbench compare --blueprints")
        study = study_from_scenario(
            args.study, blueprints=names, replications=args.replications or 5, overrides=_overrides(args.overrides)
        )
    else:
        if args.overrides:
            raise WorkbenchInputError(
                "--set works with a scenario and --blueprints; put it in the study's variants",
                source="workbench compare",
            )
        study = load_study(args.study, replications=args.replications)
        if study.grid and not study.variants:
            msg = "this study has a grid but no variants to compare; run it with 'workbench sweep'"
            raise WorkbenchInputError(msg, source=args.study)
    executor = _executor(args)
    _output_folder(args.out, "--out")
    specs = compare_specs(study)
    if args.check:
        return _check_study(study, specs)
    rows = run_specs(study, specs, out_dir=args.out, progress=args.progress and not args.json, **executor)
    _warn_runs(rows)
    table = compare_table(rows)
    if args.out is not None:
        _write_rows(rows, args.out)
        with _writing("--out", args.out):
            table.to_csv(args.out / "compare.csv")
    if args.json:
        print(table.drop(columns="key").to_json(orient="index"))
    else:
        print(f"{study.name}: {len(study.variants)} variants x {study.replications} replications, mean ± 95 % CI\n")
        print(format_compare(table))
        if args.out is not None:
            print(f"\nRuns written to {args.out}/")
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    from workbench.study import load_study, run_specs, sweep_specs

    _replications(args)
    study = load_study(args.study, replications=args.replications)
    if not study.grid and not study.variants:
        raise WorkbenchInputError("a sweep needs a 'grid' (or 'variants') in the study file", source=args.study)
    out = args.out or Path("outputs") / f"sweep-{study.name}"
    executor = _executor(args)
    _output_folder(out, "--out")
    if args.check:
        return _check_study(study, sweep_specs(study))
    rows = run_specs(study, sweep_specs(study), progress=args.progress, **executor)
    _warn_runs(rows)
    path = _write_rows(rows, out)
    print(f"{len(rows)} runs of {study.name} written to {path}")
    return EXIT_OK


def _capacity(args: argparse.Namespace) -> int:
    from workbench.analysis.capacity import parse_slo
    from workbench.study import DEFAULT_BEYOND, MAX_BEYOND, find_capacity, study_from_scenario

    low, high = args.range
    beyond = DEFAULT_BEYOND if args.beyond is None else args.beyond
    if not 0 < low < high < math.inf:
        raise WorkbenchInputError(f"--range needs 0 < LOW < HIGH, got {low:g} {high:g}", source="workbench capacity")
    if args.replications < 1:
        msg = f"at least 1 run per load, got {args.replications}"
        raise WorkbenchInputError(msg, source="workbench capacity --replications")
    if not 0 < args.tolerance < 1:
        msg = f"a fraction between 0 and 1 (0.05 is 5 %), got {args.tolerance:g}"
        raise WorkbenchInputError(msg, source="workbench capacity --tolerance")
    if not 0 <= beyond <= MAX_BEYOND:
        msg = f"a whole number of doublings from 0 to {MAX_BEYOND}, got {beyond}"
        raise WorkbenchInputError(msg, source="workbench capacity --beyond")
    if args.target is not None and not 0 < args.target < math.inf:
        msg = f"a load in ops/s above 0, got {args.target:g}"
        raise WorkbenchInputError(msg, source="workbench capacity --target")
    for text in args.slo:
        parse_slo(text)
    overrides = _overrides(args.overrides)
    if "workload.rate" in overrides:
        msg = "capacity searches workload.rate itself (the load); give the loads to search with --range LOW HIGH"
        raise WorkbenchInputError(msg, source=f"workbench capacity --set workload.rate={overrides['workload.rate']}")
    executor = _executor(args)
    study = study_from_scenario(args.scenario, replications=args.replications, overrides=overrides)
    if args.check:
        return _checked(f"{study.name}: objectives {', '.join(args.slo)}, loads {low:g}-{high:g} ops/s")
    result = find_capacity(
        study,
        args.slo,
        low=low,
        high=high,
        target=args.target,
        tolerance=args.tolerance,
        beyond=beyond,
        progress=args.progress and not args.json,
        **executor,
    )
    if args.json:
        print(json.dumps(result.as_dict(), default=str))
        return EXIT_OK
    from workbench.report.answers import capacity_lines, capacity_points

    print(f"{study.name}: objectives {', '.join(result.objectives)} ({study.replications} runs per load)\n")
    print(capacity_points(result.points).to_string(index=False))
    print()
    for line in capacity_lines(result, low=low, high=high):
        print(line)
    return EXIT_OK


def _write_rows(rows, out: Path) -> Path:
    with _writing("--out", out):
        out.mkdir(parents=True, exist_ok=True)
        path = out / "runs.parquet"
        rows.to_parquet(path, index=False)
    return path


def _report(args: argparse.Namespace) -> int:
    from workbench.report.study_report import build_report, render_html, render_markdown
    from workbench.study import load_study

    _replications(args)
    fmt = args.format or ("md" if args.output.suffix.lower() in (".md", ".markdown") else "html")
    study = load_study(args.study, replications=args.replications)
    executor = _executor(args)
    _output_file(args.output, "-o")
    if args.check:
        from workbench.study import compare_specs, sweep_specs

        return _check_study(study, compare_specs(study) if study.variants else sweep_specs(study))
    report = build_report(study, progress=args.progress, **executor)
    with _writing("-o", args.output):
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "md":
            render_markdown(report, args.output)
        else:
            args.output.write_text(render_html(report), encoding="utf-8")
    print(f"Report written to {args.output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
