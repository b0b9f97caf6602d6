"""Components get their peers from the builder; none reaches through it (issue 22, item 1).

``model/assembly/world.py`` builds one cluster and ``model/assembly/deployment.py`` several; every other model
module is a component that is handed the environment, its own spec and the few peers it talks
to. This test reads the sources: a component that names the builder (``World``, a ``world``
variable, parameter or attribute) fails it, so a shortcut through the builder cannot creep back.
"""

from __future__ import annotations

import ast
from pathlib import Path

MODEL = Path(__file__).parents[2] / "workbench" / "model"
BUILDERS = {"world.py", "deployment.py"}  # in model/assembly/
FORBIDDEN = {"world", "World", "src_world", "dst_world", "host"}


def _reaches(path: Path, root: Path = MODEL.parent.parent) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.arg):
            name = node.arg
        elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".world"):
            name = node.module
        elif isinstance(node, ast.alias):
            name = node.asname or node.name
        if name in FORBIDDEN or (isinstance(name, str) and name.endswith(".world")):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    return found


def test_no_component_reaches_through_the_builder() -> None:
    components = [p for p in sorted(MODEL.rglob("*.py")) if p.name not in BUILDERS]
    assert len(components) > 20
    found = [line for path in components for line in _reaches(path)]
    assert not found, "components must be handed their peers, not the builder:\n" + "\n".join(found)


def test_the_check_sees_a_reach_through(tmp_path: Path) -> None:
    sample = tmp_path / "component.py"
    sample.write_text(
        "from workbench.model.assembly.world import World\n"
        "class C:\n"
        "    def __init__(self, world: World):\n"
        "        self.world = world\n"
    )
    assert len(_reaches(sample, tmp_path)) >= 4
