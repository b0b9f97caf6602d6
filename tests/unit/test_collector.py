"""A run leaves the caller's garbage collector as it found it (issue 22, item 6): no
process-wide ``gc.freeze``, and the young-generation threshold it raises comes back."""

from __future__ import annotations

import gc

import pytest

from workbench import run, scenario_from_dict


def test_a_run_never_freezes_the_callers_heap_and_restores_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("a run froze the caller's heap")

    monkeypatch.setattr(gc, "freeze", refuse)
    before = gc.get_threshold()
    result = run(scenario_from_dict({"name": "gc", "duration": "2 s", "blueprint": "three-node"}, source="<t>"))
    assert result.ok, result.provenance.get("exception")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
