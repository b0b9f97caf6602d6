"""A pydantic validation error in the user's terms: the field path as written
(``faults[0].node``, a discriminated union's tag left out), the bad value, the keys or
values allowed there with a did-you-mean, and the ``--set`` override that set it, as one
:class:`~workbench.errors.WorkbenchInputError`."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from workbench.errors import WorkbenchInputError, did_you_mean
from workbench.scenario.schema import FAULT_ACTIONS, LINK_KINDS, Scenario


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _models_in(tp: Any) -> list[type[BaseModel]]:
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        out: list[type[BaseModel]] = []
        for arg in typing.get_args(tp):
            out.extend(_models_in(arg))
        return out
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def _element_type(tp: Any) -> Any:
    tp = _unwrap(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                inner = _element_type(arg)
                if inner is not None:
                    return inner
        return None
    if origin in (tuple, list):
        return typing.get_args(tp)[0]
    return None


def describe_loc(loc: tuple[Any, ...], root: type[BaseModel] | None = None) -> tuple[str, list[str] | None]:
    """Format a pydantic error location as ``faults[0].node`` and return the keys
    allowed where the last element sits (for unknown-key errors)."""
    tp: Any = root or Scenario
    path = ""
    allowed: list[str] | None = None
    for el in loc:
        models = _models_in(tp)
        if len(models) > 1 and isinstance(el, str):
            chosen = [m for m in models if _tag_of(m) == el]
            if chosen:  # a discriminated-union tag: not part of the user's path
                tp = chosen[0]
                continue
        if isinstance(el, int):
            path += f"[{el}]"
            tp = _element_type(tp)
            allowed = None
            continue
        path += f".{el}" if path else str(el)
        if len(models) == 1:
            fields = models[0].model_fields
            allowed = list(fields)
            tp = fields[el].annotation if el in fields else None
        else:
            allowed = None
            tp = None
    return path, allowed


def _tag_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("action") or model.model_fields.get("kind")
    if field is None:
        return None
    args = typing.get_args(field.annotation)
    return args[0] if args else None


def _convert(
    exc: ValidationError, source: str, pairs: list[tuple[str, Any, str]], root: type[BaseModel] | None = None
) -> WorkbenchInputError:
    errors = exc.errors(include_url=False)
    # A misspelt key usually also leaves a required key missing; the unknown key
    # (with its did-you-mean) is the one that tells the user what to fix.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    path, allowed = describe_loc(tuple(err["loc"]), root)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        message = f"unknown key '{key}'{did_you_mean(key, allowed or [])}"
        if allowed:
            message += f"; allowed keys{' in ' + parent if parent else ''}: {', '.join(allowed)}"
    elif kind == "missing":
        message = "required but missing"
    elif kind == "union_tag_invalid" and path.startswith("blueprint.links"):
        tag = err.get("ctx", {}).get("tag", value)
        message = f"unknown kind '{tag}'{did_you_mean(str(tag), LINK_KINDS)}; allowed: {', '.join(LINK_KINDS)}"
        path = f"{path}.kind"
    elif kind == "union_tag_not_found" and path.startswith("blueprint.links"):
        message = f"each link needs a 'kind', one of: {', '.join(LINK_KINDS)}"
    elif kind == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag", value)
        message = f"unknown action '{tag}'{did_you_mean(str(tag), FAULT_ACTIONS)}; allowed: {', '.join(FAULT_ACTIONS)}"
        path = f"{path}.action"
    elif kind == "union_tag_not_found":
        message = f"each fault needs an 'action', one of: {', '.join(FAULT_ACTIONS)}"
    elif kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",")]
        message = f"{value!r} is not allowed{did_you_mean(str(value), choices)}; allowed: {expected}"
    elif kind == "string_pattern_mismatch" and path.split(".")[-1].split("[")[0] in (
        "tag",
        "node",
        "members",
        "groups",
    ):
        message = f"{value!r} is not a node tag: use 1-4 uppercase letters, e.g. 'A'"
    elif kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
    else:
        message = f"{_short(value)} is not valid: {err['msg']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return WorkbenchInputError(message, source=_source_for(path, source, pairs), path=path)


def _norm_path(path: str) -> str:
    return path.replace("[", ".").replace("]", "").strip(".")


def _source_for(path: str, source: str, pairs: list[tuple[str, Any, str]]) -> str:
    """Name the override that set a bad value, when one did."""
    flat = _norm_path(path)
    for opath, _value, label in pairs:
        # The override set this value, a part of it, or (for an override that made a
        # section where the schema wants a value, e.g. workload.rate.x=1) a key below it.
        if flat == opath or flat.startswith(opath + ".") or opath.startswith(flat + "."):
            return f"{source} ({label})"
    return source


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
