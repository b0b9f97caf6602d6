"""One way through (issue 22, item 4): scenario -> model -> results -> analysis ->
charts/report/UI -> CLI/notebook. A module may import its own layer and those below it, never
one above, and a lazy import inside a function counts as much as one at the top of a file.

``NOT_YET`` lists the upward imports still to remove; it must shrink to nothing, and an entry
that no longer happens fails the test too, so the list cannot go stale.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "workbench"

# Lowest first. The first dotted part of a module's name below ``workbench`` decides its layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "version"),
    ("blueprints",),
    ("scenario",),
    ("model",),
    ("results",),
    ("experiment",),
    ("analysis",),
    ("display", "charts"),
    ("study",),
    ("report", "ui", "validation"),
    ("cli", "notebook", "__init__"),
)
LAYER = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}

# (importing part, imported part): upward imports that the redesign still has to remove.
NOT_YET: set[tuple[str, str]] = set()


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every workbench module ``path`` imports, resolved to module names (a ``from workbench
    import charts`` is the module ``workbench.charts``, a ``from workbench import run`` is the
    package itself)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "workbench"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name.split(".")[0] != "workbench":
                continue
            for alias in node.names:
                sub = f"{name}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    PACKAGE.parent / Path(*sub.split("."))
                ).is_dir()
                out.add(sub if is_module else name)
    return out


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _part(_module(path))
        for target in sorted(_imported(path)):
            into = _part(target)
            if LAYER[into] > LAYER[source]:
                found.setdefault((source, into), []).append(f"{_module(path)} imports {target}")
    return found


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {_part(_module(p)) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(LAYER), f"give these a layer in LAYERS: {sorted(parts - set(LAYER))}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    found = upward_imports()
    new = {pair: where for pair, where in found.items() if pair not in NOT_YET}
    assert not new, "imports that run up the layers:\n" + "\n".join(w for ws in new.values() for w in ws)
    gone = NOT_YET - set(found)
    assert not gone, f"these no longer happen; remove them from NOT_YET: {sorted(gone)}"


# Inside the model, a folder per concern, lowest first (ARCHITECTURE.md, "Inside the model"). A
# folder may import its own modules and those of the folders before it; an import only for type
# annotations (under ``if TYPE_CHECKING:``) does not count, since nothing runs it.
MODEL_LAYERS: tuple[str, ...] = (
    "kernel",
    "recording",
    "database",
    "cluster",
    "clients",
    "tasks",
    "faults",
    "assembly",
)


def _runtime_imports(path: Path) -> set[str]:
    """The ``workbench.model`` modules ``path`` imports when it runs (type-only imports left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workbench.model."):
            out.add(node.module or "")
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("workbench.model.")}
    return out


def test_every_model_module_sits_in_a_folder_of_the_model_layers() -> None:
    model = PACKAGE / "model"
    loose = [p.name for p in model.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"put these in a folder of MODEL_LAYERS: {loose}"
    assert {p.name for p in model.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(MODEL_LAYERS)


def test_no_model_folder_imports_one_above_it() -> None:
    rank = {name: i for i, name in enumerate(MODEL_LAYERS)}
    found = []
    for path in sorted((PACKAGE / "model").rglob("*.py")):
        here = path.parent.name
        if here not in rank:
            continue
        for target in sorted(_runtime_imports(path)):
            into = target.split(".")[2]
            if rank.get(into, -1) > rank[here]:
                found.append(f"{_module(path)} imports {target}")
    assert not found, "imports that run up the model's folders:\n" + "\n".join(found)


def test_every_package_says_what_lives_there_and_what_it_may_import() -> None:
    missing = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if len(doc.split("May import:")[0].strip()) < 20 or "May import:" not in doc:
            missing.append(str(init.relative_to(PACKAGE.parent)))
    assert not missing, (
        "each package's __init__ docstring says what lives there, then 'May import: ...':\n" + "\n".join(missing)
    )
