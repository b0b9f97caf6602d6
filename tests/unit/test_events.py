"""The event registry: every kind renders, the recorder refuses what the registry does not
declare, every call site in the model records a registered kind with its own fields, and
docs/events.md lists them all."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from workbench.model.recording.events import FIELDS, KINDS, REGENERATE, EventError, items, markdown
from workbench.model.recording.recorder import EVENTS_COLUMNS, Recorder, events_table

ROOT = Path(__file__).parents[2]
MODEL = ROOT / "workbench" / "model"
BASE = {"node", "term", "value", "database"}  # the columns every event has, outside the fields


def _fields(example: dict) -> dict:
    return {k: v for k, v in example.items() if k not in BASE}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_has_a_meaning_and_an_example_that_renders(name: str) -> None:
    kind = KINDS[name]
    assert kind.meaning.endswith(".") and len(kind.meaning) < 140, name
    fields = _fields(dict(kind.example))
    kind.check(fields)  # the example holds exactly the kind's fields, of their types
    detail = kind.render(kind.example.get("node"), kind.example.get("term"), fields)
    assert isinstance(detail, str) and "None" not in detail and "\n" not in detail


def test_every_field_is_used_and_typed() -> None:
    used = {f for kind in KINDS.values() for f in (*kind.fields, *kind.optional)}
    assert used == set(FIELDS), f"declared but unused: {sorted(set(FIELDS) - used)}"
    for field in FIELDS.values():
        assert field.meaning and field.dtype in ("string", "Int64", "float64", "boolean"), field.name
        assert field.name.endswith(("_s", "_ms")) == (field.unit in ("s", "ms")), field.name


def test_the_recorder_refuses_what_the_registry_does_not_declare() -> None:
    rec = Recorder([], [], "db")
    rec.event("task_moved", node="A", task="nightly", source="C")
    with pytest.raises(EventError, match="unknown event kind 'task_teleported'"):
        rec.event("task_teleported", node="A", task="nightly")
    with pytest.raises(EventError, match=r"missing \['source'\]"):
        rec.event("task_moved", node="A", task="nightly")
    with pytest.raises(EventError, match=r"not its fields: \['reason'\]"):
        rec.event("task_moved", node="A", task="nightly", source="C", reason="why not")
    with pytest.raises(EventError, match="source must be str"):
        rec.event("task_moved", node="A", task="nightly", source=3)
    with pytest.raises(EventError, match="members must be list"):
        rec.event("database_created", members=["A", "B"], rf=2)  # a list may change later: a tuple
    with pytest.raises(EventError, match="rf must be int"):
        rec.event("database_created", members=("A", "B"), rf=2.0)
    with pytest.raises(EventError, match="disk_lost must be bool"):
        rec.event("node_crashed", node="A", reason="target A", disk_lost=0, silent=False)
    assert len(rec.tables()["events"]) == 1  # only the good one


def test_optional_fields_may_be_left_out_or_empty() -> None:
    rec = Recorder([], [], "db")
    rec.event("topology_changed", node="A", term=2, members=("A", "B"), etag=7)
    rec.event("topology_changed", node="A", term=2, members=(), rehabs=("B",), promotables=None, etag=8)
    events = rec.tables()["events"]
    assert list(events["detail"]) == ["members A, B (etag 7)", "members (none); rehab B (etag 8)"]
    assert [items(m) for m in events["members"]] == [["A", "B"], []]
    assert [items(r) for r in events["rehabs"]] == [[], ["B"]]


def test_the_table_has_the_base_columns_then_one_typed_column_per_field() -> None:
    backup = {"task": "nightly", "full": False, "bytes": 2.5e6, "since_s": 3600.0}
    latest = {"key": 4, "resolution": "resolve to latest", "winning_write": 10, "losing_write": 9}
    manual = {"key": 5, "resolution": "manual", "writes": (11, 12, 13)}
    rows = [
        (1.0, "backup_started", "C", None, 2.5e6, backup),
        (2.0, "conflict", "B", None, 9.0, latest),
        (3.0, "conflict", "A", None, None, manual),
    ]
    events = events_table(rows, "db")
    assert list(events.columns) == [*EVENTS_COLUMNS, *FIELDS]
    assert {c: str(events[c].dtype) for c in FIELDS} == {c: f.dtype for c, f in FIELDS.items()}
    assert list(events["detail"]) == [
        "nightly on C: incremental, 2.5 MB, changes since 01:00:00",
        "key 4: write 10 beat 9 (resolve to latest)",
        "key 5: writes 11, 12 and 13 in conflict (manual)",
    ]
    assert events["full"].tolist()[0] is False and pd.isna(events["full"].iloc[1])
    assert events["key"].tolist()[1:] == [4, 5] and events["writes"].iloc[2] == "11,12,13"
    assert events["since_s"].iloc[0] == 3600.0 and pd.isna(events["since_s"].iloc[1])
    with pytest.raises(EventError, match="missing"):
        events_table([(4.0, "conflict", "A", None, None, {"key": 5})], "db")
    empty = events_table([], "db")
    assert list(empty.columns) == list(events.columns) and empty.empty


def test_docs_list_every_kind_and_field() -> None:
    doc = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert doc == markdown(), f"docs/events.md is out of date: {REGENERATE}"
    for name in KINDS:
        assert f"| `{name}` |" in doc, name
    for name in FIELDS:
        assert f"| `{name}` |" in doc, name


# ---------------------------------------------------------------------------- the model's call sites

# Calls that record an event: recorder.event(kind, **fields) and Cluster.event(kind, node, term,
# **fields); the helpers that add fields of their own: the subscription's _event(kind, node,
# worker, value, **fields) adds task and worker, a replication channel's _event(kind, size) its
# ends (and bytes with a size), the fault plan's _refused(kind, action, node, why) three more.
_HELPERS = {
    ("subscription.py", "_event"): lambda call: {"task", "worker"},
    ("database.py", "_event"): lambda call: {"source", "destination"} | ({"bytes"} if len(call.args) > 1 else set()),
    ("faults.py", "_refused"): lambda call: {"action", "target", "reason"},
}


def _calls() -> list[tuple[str, int, str, set[str], bool]]:
    """(file, line, kind, field names, has **fields) of every call with a literal kind."""
    out = []
    for path in sorted(MODEL.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)) or not node.args:
                continue
            helper = _HELPERS.get((path.name, node.func.attr))
            if node.func.attr != "event" and helper is None:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            names = {k.arg for k in node.keywords if k.arg is not None} | (helper(node) if helper else set())
            spread = any(k.arg is None for k in node.keywords)
            out.append((path.name, node.lineno, first.value, names - BASE, spread))
    return out


def test_every_call_site_records_a_registered_kind_with_its_fields() -> None:
    calls = _calls()
    assert len(calls) > 80  # the scan finds the model's events
    for file, line, kind, names, spread in calls:
        where = f"{file}:{line} {kind}"
        assert kind in KINDS, f"{where}: not a registered kind"
        spec = KINDS[kind]
        allowed = set(spec.fields) | set(spec.optional)
        assert names <= allowed, f"{where}: {sorted(names - allowed)} are not its fields"
        if not spread:
            assert set(spec.fields) <= names, f"{where}: missing {sorted(set(spec.fields) - names)}"


def test_every_registered_kind_is_recorded_somewhere_in_the_model() -> None:
    literals = {
        node.value
        for path in MODEL.rglob("*.py")
        if path.name != "events.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert set(KINDS) <= literals, f"registered but never recorded: {sorted(set(KINDS) - literals)}"


def test_no_reader_reads_the_detail_text() -> None:
    """The events' ``detail`` is for people: nothing in the package selects, splits or matches it
    (``events["detail"]``, ``row.detail``); the fields say what it says."""
    found = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        if path == MODEL / "recording" / "events.py":
            continue  # where it is written: an event kind's ``detail`` template
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            by_key = isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
            if (by_key and node.slice.value == "detail") or (isinstance(node, ast.Attribute) and node.attr == "detail"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"reads the detail text: {found}"


def test_results_saved_without_the_event_fields_are_refused_with_a_reason(tmp_path) -> None:
    import pandas as pd
    import pytest

    from workbench.errors import WorkbenchInputError
    from workbench.experiment import run
    from workbench.results import RunResult
    from workbench.scenario import scenario_from_dict

    result = run(scenario_from_dict({"name": "old", "duration": "2 s", "blueprint": "three-node"}, source="<t>"))
    folder = result.to_dir(tmp_path / "run")
    assert len(RunResult.from_dir(folder).events.columns) == len(result.events.columns)
    events = pd.read_parquet(folder / "events.parquet")
    events[["time_s", "kind", "node", "term", "database", "detail", "value"]].to_parquet(folder / "events.parquet")
    with pytest.raises(WorkbenchInputError, match=r"lacks the event fields .* run the scenario again"):
        RunResult.from_dir(folder)


def test_the_recorder_can_build_its_tables_and_go_on_recording() -> None:
    """The op columns reach pandas without a Python int per row, and as copies: a Categorical
    may keep the array it is given, and a buffer with a view on it cannot grow."""
    from array import array

    from workbench.model.recording.recorder import Recorder, _codes

    buffer = array("b", [0, 1, 1])
    codes = _codes(buffer)
    buffer.append(0)  # BufferError if codes were a view on the buffer
    assert list(codes) == [0, 1, 1] and codes.dtype.itemsize == 1
    recorder = Recorder(["A", "B"], ["client1"], "db")
    row = (0.0, 0.001, 0, 7, 0, 1, 1, 1, 0, 3, 0, 0)
    recorder.op_rows.append(row)
    first = recorder.tables()["ops"]
    recorder.op_rows.append(row)
    second = recorder.tables()["ops"]
    assert len(first) == 1 and len(second) == 2
    assert list(second["node"].astype(str)) == ["B", "B"]
