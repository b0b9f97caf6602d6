"""The compiled hot path (setup.py, mypyc) is the Python model, only faster.

``make test`` runs the Python sources; CI then builds the compiled model from a clean clone and
runs this file with WORKBENCH_REQUIRE_COMPILED (``make test-compiled``), so a change that stops
it compiling (a type error in a compiled module, say) fails there instead of quietly running
the slower sources.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pandas.testing import assert_frame_equal

import workbench.model as model
from workbench import run, scenario_from_dict

TABLES = ("ops", "events", "timeseries", "replication")

# Writes and reads, a leader crash and a partition: elections, failover, rehab, catch-up.
SCENARIO = {
    "name": "compiled-vs-python",
    "seed": 11,
    "duration": "40 s",
    "blueprint": "five-node",
    "clients": {"count": 3, "read_balance": "RoundRobin"},
    "workload": {"rate": 400, "mix": {"read": 0.6, "write": 0.3, "query": 0.1}},
    "faults": [
        {"at": "8 s", "action": "crash", "node": "leader"},
        {"at": "18 s", "action": "restart", "node": "last_crashed"},
        {"at": "22 s", "action": "partition", "groups": [["A", "B"], ["C", "D", "E"]], "duration": "6 s"},
    ],
}


def test_the_model_is_compiled_where_required() -> None:
    if not os.environ.get("WORKBENCH_REQUIRE_COMPILED"):
        pytest.skip("WORKBENCH_REQUIRE_COMPILED is not set (make test-compiled sets it)")
    assert model.COMPILED, f"the compiled model is not in use: {model.NOT_COMPILED_BECAUSE}"
    import workbench.model.cluster.node as node

    assert Path(node.__file__).suffix == ".so"


def test_compiled_and_python_models_give_identical_tables(tmp_path: Path) -> None:
    if not model.COMPILED:
        pytest.skip(f"the compiled model is not in use here ({model.NOT_COMPILED_BECAUSE}); make test-compiled runs it")
    compiled = run(scenario_from_dict(SCENARIO, source="<test>"))
    assert compiled.ok, compiled.provenance.get("exception")
    out = tmp_path / "python.pkl"
    script = textwrap.dedent(
        f"""
        import pickle, sys
        import workbench.model
        from pathlib import Path
        from workbench import run, scenario_from_dict
        assert not workbench.model.COMPILED
        import workbench.model.cluster.node
        assert workbench.model.cluster.node.__file__.endswith(".py"), workbench.model.cluster.node.__file__
        result = run(scenario_from_dict({SCENARIO!r}, source="<test>"))
        tables = {{name: getattr(result, name) for name in {TABLES!r}}}
        Path({str(out)!r}).write_bytes(pickle.dumps((tables, result.provenance["environment"]["model"])))
        """
    )
    env = {**os.environ, "WORKBENCH_PURE_PYTHON": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    python_tables, python_model = pickle.loads(out.read_bytes())
    assert python_model == "Python sources (WORKBENCH_PURE_PYTHON is set)"
    assert compiled.provenance["environment"]["model"] == "compiled (mypyc)"
    assert len(compiled.ops) > 10_000
    assert set(compiled.events["kind"]) >= {"leader_elected", "node_crashed"}
    for name in TABLES:
        assert_frame_equal(getattr(compiled, name), python_tables[name], check_exact=True, obj=name)


# -- the guard that keeps stale extensions out


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model folder holding one 'compiled' module (in a subpackage, as the model's are) whose
    manifest matches its source."""
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "kernel.py").write_text("X = 1\n")
    (tmp_path / "kernel" / f"kernel{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")
    digest = hashlib.sha256(b"X = 1\n").hexdigest()
    manifest = {"modules": ["kernel.kernel"], "sources": {"kernel.kernel": digest}}
    (tmp_path / "native.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(model, "_HERE", tmp_path)
    monkeypatch.setattr(model, "_MANIFEST", tmp_path / "native.json")
    monkeypatch.delenv("WORKBENCH_PURE_PYTHON", raising=False)
    return tmp_path


def test_extensions_matching_their_sources_are_used(built: Path) -> None:
    assert model._compiled_modules() == (["kernel.kernel"], None)


def test_an_edited_source_disables_the_extensions(built: Path) -> None:
    (built / "kernel" / "kernel.py").write_text("X = 2\n")
    assert model._compiled_modules() == (["kernel.kernel"], "kernel/kernel.py changed since the build")


def test_missing_extensions_or_manifest_disable_them(built: Path) -> None:
    (built / "kernel" / f"kernel{importlib.machinery.EXTENSION_SUFFIXES[0]}").unlink()
    assert model._compiled_modules() == (["kernel.kernel"], "not built for this Python")
    (built / "native.json").unlink()
    assert model._compiled_modules() == ([], "not built")


def test_the_environment_variable_disables_them(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_PURE_PYTHON", "1")
    assert model._compiled_modules() == (["kernel.kernel"], "WORKBENCH_PURE_PYTHON is set")


def test_the_finder_loads_listed_modules_from_their_sources(built: Path) -> None:
    finder = model._SourcesFirst(["kernel.kernel"])
    spec = finder.find_spec("workbench.model.kernel.kernel")
    assert spec is not None and spec.origin == str(built / "kernel" / "kernel.py")
    assert finder.find_spec("workbench.model.assembly.world") is None
    assert finder.find_spec("pandas") is None


def test_results_record_which_model_ran() -> None:
    from workbench.results import environment_info

    info = environment_info()["model"]
    if model.COMPILED:
        assert info == "compiled (mypyc)"
    else:
        assert info.startswith("Python sources (")


def test_an_older_build_is_never_used_when_the_manifest_is_missing(tmp_path: Path, monkeypatch) -> None:
    """A failed rebuild deletes native.json but may leave the previous build's extensions
    beside the edited sources: the sources must still be loaded first."""
    import importlib.machinery

    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "network.py").write_text("")
    (tmp_path / "kernel" / f"network{suffix}").write_bytes(b"")
    (tmp_path / f"_native__mypyc{suffix}").write_bytes(b"")  # the shared library has no source
    monkeypatch.setattr(model, "_HERE", tmp_path)
    monkeypatch.setattr(model, "_MANIFEST", tmp_path / "native.json")
    names, why = model._compiled_modules()
    assert names == ["kernel.network"] and why == "not built"
