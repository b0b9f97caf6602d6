"""Ongoing tasks are built through an explicit registry (issue 22, item 1): every kind the
scenario schema allows has a model, and nothing else is guessed (an unknown kind used to become
a subscription)."""

from __future__ import annotations

import typing
from types import SimpleNamespace

import pytest

from workbench.model.tasks.tasks import TASK_MODELS, Task, make_task
from workbench.scenario.schema import OngoingTask


def _schema_kinds() -> set[str]:
    union = typing.get_args(OngoingTask)[0]
    return {typing.get_args(model.model_fields["kind"].annotation)[0] for model in typing.get_args(union)}


def test_every_task_kind_of_the_schema_has_a_model_and_no_other() -> None:
    assert set(TASK_MODELS) == _schema_kinds()
    import importlib

    for module, name in TASK_MODELS.values():
        assert issubclass(getattr(importlib.import_module(module), name), Task)


def test_an_unknown_kind_is_an_error_not_a_subscription() -> None:
    with pytest.raises(ValueError, match="no model for ongoing tasks of kind 'ftp_etl'; modelled kinds: sql_etl"):
        make_task(SimpleNamespace(kind="ftp_etl"), {})


def test_a_task_is_handed_only_the_peers_its_constructor_names() -> None:
    """Issue 22, item 1: no task reaches through the builder; a peer it needs and is not given is
    a wiring error that names it."""
    import inspect

    from workbench.model.tasks.backup import Backup

    assert "network" not in inspect.signature(Backup).parameters
    with pytest.raises(TypeError, match="Backup needs env, nodes, cluster, recorder, db_name, db, ledger"):
        make_task(SimpleNamespace(kind="backup"), {})
