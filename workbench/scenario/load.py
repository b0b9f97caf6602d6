"""Load a scenario: YAML → blueprint resolution → overrides → strict models → cross-checks.

Everything that can be wrong with user input is reported as a
:class:`~workbench.errors.WorkbenchInputError` naming the file, the field path,
the bad value and what is allowed. This module reads the YAML, resolves the blueprint and
applies the overrides; a pydantic error is put in the user's terms by
:mod:`workbench.scenario.explain`, and the rules across fields are
:mod:`workbench.scenario.checks`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench.blueprints import blueprint_names, load_blueprint_data
from workbench.errors import WorkbenchInputError, did_you_mean, one_of
from workbench.scenario.checks import (
    MAX_SAMPLES,
    OPERATOR_NODE_ACTIONS,
    check_deployment,
    check_faults,
    check_scenario,
    check_tasks,
    check_workload,
)
from workbench.scenario.explain import _convert, _norm_path, _source_for, describe_loc
from workbench.scenario.schema import DeploymentScenario, Scenario

# The cross-field checks and describe_loc live in checks.py and explain.py (issue 22); they
# are listed here too, so they stay importable from this module.
__all__ = [
    "MAX_SAMPLES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_VALUES",
    "OPERATOR_NODE_ACTIONS",
    "Overrides",
    "check_deployment",
    "check_faults",
    "check_scenario",
    "check_tasks",
    "check_workload",
    "describe_loc",
    "load_scenario",
    "parse_overrides",
    "parse_yaml",
    "recorded_scenario",
    "resolve_blueprint",
    "scenario_from_dict",
    "set_path",
]

Overrides = Mapping[str, Any] | Iterable[str] | None


# ----------------------------------------------------------------------------- public API


def load_scenario(
    path: str | Path,
    overrides: Overrides = None,
    *,
    seed: int | None = None,
    duration: str | float | None = None,
) -> Scenario:
    """Load, resolve and validate a scenario file.

    ``overrides`` maps dotted paths to values (``{"workload.rate": 2000}``) or is a
    list of ``"path=value"`` strings as given on the command line.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        msg = f"no such scenario file (looked for {path.resolve()})"
        raise WorkbenchInputError(msg, source=source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read the file: {exc}"
        raise WorkbenchInputError(msg, source=source) from None
    data = parse_yaml(text, source)
    return scenario_from_dict(
        data, source=source, base_dir=path.parent, overrides=overrides, seed=seed, duration=duration
    )


# Bounds on what a YAML document may expand to: a scenario is a few hundred values, a big study
# a few thousand. Aliases are shared when parsed but expanded by everything after (validation,
# provenance, reports), so a "billion laughs" document must be refused before that.
MAX_YAML_VALUES = 200_000
MAX_YAML_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """safe_load, and a key given twice in one mapping is an error (YAML forbids it; PyYAML
    would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        """A mapping, refusing a key given twice (the message names both lines)."""
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not None:
                msg = (
                    f"the key '{key}' is given twice in one mapping (lines {first + 1} and "
                    f"{key_node.start_mark.line + 1}); keep one"
                )
                raise yaml.constructor.ConstructorError(None, None, msg, key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _expanded_size(data: Any, source: str) -> None:
    """Refuse documents whose aliases expand beyond MAX_YAML_VALUES values or MAX_YAML_DEPTH levels."""
    sizes: dict[int, int] = {}
    depth_of: dict[int, int] = {}

    def walk(value: Any, depth: int) -> int:
        """Values under ``value`` once aliases are expanded (each shared node counted once per
        depth); raises past the limits."""
        if depth > MAX_YAML_DEPTH:
            msg = f"the document is nested more than {MAX_YAML_DEPTH} levels deep; flatten it"
            raise WorkbenchInputError(msg, source=source)
        if not isinstance(value, dict | list):
            return 1
        key = id(value)
        if key in sizes and depth_of[key] >= depth:
            return sizes[key]
        items = value.values() if isinstance(value, dict) else value
        total = 1
        for item in items:
            total += walk(item, depth + 1)
            if total > MAX_YAML_VALUES:
                msg = (
                    f"the document expands to more than {MAX_YAML_VALUES:,} values (aliases repeated "
                    "inside aliases?); write it out plainly"
                )
                raise WorkbenchInputError(msg, source=source)
        sizes[key] = total
        depth_of[key] = depth
        return total

    walk(data, 0)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML safely: no tags beyond plain data, no duplicate keys, bounded expansion and
    depth. A syntax error names the line."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"not valid YAML: {where}{problem}"
        raise WorkbenchInputError(msg, source=source) from None
    except RecursionError:
        msg = "the document is nested too deeply to read; flatten it"
        raise WorkbenchInputError(msg, source=source) from None
    _expanded_size(data, source)
    return data


def scenario_from_dict(
    data: Any,
    *,
    source: str = "<scenario>",
    base_dir: str | Path | None = None,
    overrides: Overrides = None,
    seed: int | None = None,
    duration: str | float | None = None,
) -> Scenario:
    """Validate a scenario given as a mapping (for notebooks and tests)."""
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        msg = f"a scenario must be a mapping of keys to values, but the file is {kind}"
        raise WorkbenchInputError(msg, source=source)
    data = copy.deepcopy(dict(data))
    pairs = parse_overrides(overrides)
    if seed is not None:
        pairs.append(("seed", seed, f"--seed {seed}"))
    if duration is not None:
        pairs.append(("duration", duration, f"--duration {duration}"))

    # An override may switch the blueprint itself; apply those first.
    for path, value, _label in pairs:
        if path == "blueprint":
            data["blueprint"] = value
    suggested = suggested_workload = None
    if "blueprint" in data:
        data["blueprint"] = resolve_blueprint(data["blueprint"], source)
        if isinstance(data["blueprint"], dict):
            suggested = data["blueprint"].pop("clients", None)
            # A blueprint may name the collections its layout is about (edge-hub: catalog, sales).
            suggested_workload = data["blueprint"].pop("workload", None)
    if isinstance(suggested_workload, Mapping):
        given = data.get("workload")
        data["workload"] = _deep_merge(dict(suggested_workload), given if isinstance(given, Mapping) else {})
    for path, value, label in pairs:
        if path != "blueprint":
            set_path(data, path, value, source=label)
    if isinstance(suggested, Mapping):
        data["clients"] = _clients_over(suggested, data.get("clients"))

    context = {"base_dir": str(base_dir) if base_dir is not None else None}
    # A blueprint with clusters is a deployment of several clusters (workbench.scenario.deployment).
    root = (
        DeploymentScenario
        if isinstance(data.get("blueprint"), Mapping) and "clusters" in data["blueprint"]
        else Scenario
    )
    try:
        scenario = root.model_validate(data, context=context)
    except ValidationError as exc:
        raise _convert(exc, source, pairs, root) from None
    try:
        if isinstance(scenario, DeploymentScenario):
            check_deployment(scenario, source)
        else:
            check_scenario(scenario, source)
    except WorkbenchInputError as err:
        raise WorkbenchInputError(
            err.message, source=_source_for(err.path or "", source, pairs), path=err.path
        ) from None
    return scenario


def recorded_scenario(data: Any, *, source: str = "<provenance>") -> Scenario:
    """The typed scenario of a run, from the resolved form its provenance records
    (``Scenario.model_dump(mode="json")``, durations written back with their units).

    The models validate it as they validate a scenario file (the same types, units and
    defaults: a duration is the float number of seconds its text says), a deployment's as a
    :class:`~workbench.scenario.schema.DeploymentScenario`. The cross-checks of what a person
    wrote are not run again: the run passed them already, and a resolved scenario writes every
    field, which some of them refuse (clients with both a count and a placement, ``elide_idle``
    on a deployment). An empirical distribution read from a file that is not where the run
    found it (results moved to another machine) becomes an
    :class:`~workbench.scenario.distributions.Unreadable` one: its text, and no values.
    Raises :class:`~workbench.errors.WorkbenchInputError` if ``data`` is not a scenario."""
    if not isinstance(data, Mapping):
        kind = "nothing" if data is None else f"a {type(data).__name__}"
        msg = f"the recorded scenario must be a mapping of keys to values, but it is {kind}"
        raise WorkbenchInputError(msg, source=source)
    blueprint = data.get("blueprint")
    root = DeploymentScenario if isinstance(blueprint, Mapping) and "clusters" in blueprint else Scenario
    try:
        return root.model_validate(data, context={"base_dir": None, "recorded": True})
    except ValidationError as exc:
        raise _convert(exc, source, [], root) from None


# ----------------------------------------------------------------------------- blueprints


def _clients_over(suggested: Mapping[str, Any], given: Any) -> Any:
    """The scenario's clients merged over the ones its blueprint suggests. Saying where
    the clients are (count, datacenter, zone or placement) replaces the suggested placement."""
    if given is None:
        return dict(suggested)
    if not isinstance(given, Mapping):
        return given  # validation reports it
    base = dict(suggested)
    if any(key in given for key in ("count", "datacenter", "zone", "placement")):
        base.pop("placement", None)
    return _deep_merge(base, given)


def resolve_blueprint(value: Any, source: str) -> dict[str, Any]:
    """Turn ``three-node`` or ``{extends: three-node, ...}`` into a full mapping."""
    if isinstance(value, str):
        return _builtin(value, source, "blueprint")
    if isinstance(value, Mapping):
        value = dict(value)
        base_name = value.pop("extends", None)
        if base_name is None:
            return value
        if not isinstance(base_name, str):
            msg = f"extends must name a built-in blueprint, got {base_name!r}"
            raise WorkbenchInputError(msg, source=source, path="blueprint.extends")
        base = _builtin(base_name, source, "blueprint.extends")
        if ("databases" in value or "database_population" in value) and "database" not in value:
            # The extension declares the cluster's databases itself: the base's one database
            # is not among them (database and databases cannot both be given).
            base.pop("database", None)
        return _deep_merge(base, value)
    msg = (
        f"{value!r} is not a blueprint; name a built-in one ({one_of(blueprint_names())}) "
        "or write one inline as a mapping"
    )
    raise WorkbenchInputError(msg, source=source, path="blueprint")


def _builtin(name: str, source: str, path: str) -> dict[str, Any]:
    try:
        return load_blueprint_data(name)
    except KeyError:
        names = blueprint_names()
        msg = f"'{name}' is not a built-in blueprint{did_you_mean(name, names)}; known: {one_of(names)}"
        raise WorkbenchInputError(msg, source=source, path=path) from None


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


# ----------------------------------------------------------------------------- overrides


def parse_overrides(overrides: Overrides) -> list[tuple[str, Any, str]]:
    """Normalise overrides to ``(path, value, label)``; CLI values are read as YAML scalars."""
    if overrides is None:
        return []
    pairs: list[tuple[str, Any, str]] = []
    if isinstance(overrides, Mapping):
        for path, value in overrides.items():
            pairs.append((_norm_path(str(path)), value, f"override {path}={value!r}"))
        return pairs
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            msg = f"override {item!r} must look like PATH=VALUE, e.g. workload.rate=2000"
            raise WorkbenchInputError(msg, source="--set")
        path, raw = item.split("=", 1)
        path = path.strip()
        if not path:
            msg = f"override {item!r} has no path before '='; e.g. workload.rate=2000"
            raise WorkbenchInputError(msg, source="--set")
        try:
            value = yaml.load(raw, Loader=_StrictLoader) if raw.strip() else ""
        except (yaml.YAMLError, RecursionError):
            value = raw
        pairs.append((_norm_path(path), value, f"--set {item}"))
    return pairs


def set_path(data: dict[str, Any], path: str, value: Any, *, source: str) -> None:
    """Set ``data[a][b][0][c] = value`` for the dotted path ``a.b.0.c``."""
    parts = path.split(".")
    node: Any = data
    walked: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                msg = f"'{part}' is not an index of {'.'.join(walked)} (it has {len(node)} items, 0..{len(node) - 1})"
                raise WorkbenchInputError(msg, source=source, path=path)
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
        else:
            msg = f"{'.'.join(walked)} is a value ({node!r}), not a section, so it has no '{part}'"
            raise WorkbenchInputError(msg, source=source, path=path)
        if last:
            node[key] = value
            return
        child = node[key] if isinstance(node, list) else node.get(key)
        if child is None:
            child = {}
            node[key] = child
        elif isinstance(child, tuple):
            child = list(child)
            node[key] = child
        node = child
        walked.append(part)
