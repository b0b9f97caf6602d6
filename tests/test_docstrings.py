"""Docstrings on every public function and class (issue 22, item 7).

Public: a name that does not start with ``_``. That covers functions, classes, methods
(those of a private class too) and functions nested in functions, since a reader meets
them all in the source. The check reads the source (``ast``), so it sees the compiled
modules of ``workbench/model`` as written.

``DOCUMENTED`` names every top-level part of the package, so all of it is held to it; a
part added to ``workbench/`` must be added there too (a test says so).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "workbench"

# Folders and files under workbench/ whose every public function and class has a docstring:
# all of them.
DOCUMENTED: tuple[str, ...] = (
    "__init__.py",
    "analysis",
    "blueprints",
    "charts",
    "cli.py",
    "display.py",
    "errors.py",
    "experiment.py",
    "model",
    "notebook.py",
    "report",
    "results",
    "scenario",
    "study.py",
    "ui",
    "validation",
    "version.py",
)

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _files() -> list[Path]:
    files: list[Path] = []
    for entry in DOCUMENTED:
        path = PACKAGE / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def _undocumented(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """``file:line qualified.name`` of each public definition in ``path`` without a docstring
    (the file named relative to ``root``)."""
    missing: list[str] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, DEFINITIONS):
                name = f"{prefix}{child.name}"
                if not child.name.startswith("_") and ast.get_docstring(child) is None:
                    missing.append(f"{path.relative_to(root)}:{child.lineno} {name}")
                walk(child, f"{name}.")
            else:
                walk(child, prefix)

    walk(ast.parse(path.read_text(encoding="utf-8")), "")
    return missing


def test_the_documented_scope_exists() -> None:
    # A folder or file renamed away would otherwise leave its code unchecked without a word.
    gone = [entry for entry in DOCUMENTED if not (PACKAGE / entry).exists()]
    assert not gone, f"DOCUMENTED names what is not in workbench/: {gone}"
    assert all(path.suffix == ".py" for path in _files())


def test_the_documented_scope_is_the_whole_package() -> None:
    # A new module or subpackage would otherwise start outside the check.
    covered = set(_files())
    left_out = sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if path not in covered)
    assert not left_out, f"add these to DOCUMENTED: {left_out}"


def test_every_public_function_and_class_has_a_docstring() -> None:
    missing = [line for path in _files() for line in _undocumented(path)]
    assert not missing, "public functions and classes without a docstring:\n" + "\n".join(missing)


def test_the_check_sees_methods_and_nested_functions(tmp_path: Path) -> None:
    # Without this, a check that looked only at top-level names would pass on its own blind spot.
    source = tmp_path / "sample.py"
    source.write_text(
        '"""A module."""\n'
        "class _Private:\n"
        "    def public(self): ...\n"
        "def outer():\n"
        '    """Documented."""\n'
        "    def inner(): ...\n"
        "    def _helper(): ...\n"
        "    return inner, _helper\n",
        encoding="utf-8",
    )
    names = [line.split()[-1] for line in _undocumented(source, tmp_path)]
    assert names == ["_Private.public", "outer.inner"]
