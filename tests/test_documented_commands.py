"""Every ``workbench`` command quoted in the README and the docs still works as written (issue 21):
the commands that run simulations are given ``--check`` (their files, settings and outputs are
validated, nothing runs); ``blueprints`` runs as is. ``validate`` and ``bench`` take minutes and
have their own tests. Placeholders (a file the reader is meant to write) are left out."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLACEHOLDERS = ("my-study.yaml", "my-scenario.yaml", "your-")
CHECKED = ("run", "compare", "sweep", "capacity", "report")


def _commands() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for doc in DOCS:
        in_code = False
        pending = ""
        for line in doc.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("```"):
                in_code = not in_code
                continue
            if not in_code:
                continue
            text = pending + line.strip()
            if text.endswith("\\"):
                pending = text[:-1] + " "
                continue
            pending = ""
            text = re.sub(r"^\$\s+", "", text)
            if not text.startswith("workbench "):
                continue
            text = re.sub(r"\s+#(?![^']*'\s*$).*$", "", text)  # a trailing comment (not a '#' inside quotes)
            found.append((doc.name, text.strip()))
    return found


COMMANDS = [
    (doc, cmd)
    for doc, cmd in _commands()
    if not any(p in cmd for p in PLACEHOLDERS) and shlex.split(cmd)[1] in (*CHECKED, "blueprints")
]


def test_the_docs_quote_commands() -> None:
    verbs = {shlex.split(cmd)[1] for _doc, cmd in COMMANDS}
    assert {"run", "compare", "report", "blueprints"} <= verbs, verbs
    assert len(COMMANDS) >= 15


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in COMMANDS])
def test_a_documented_command_works_as_written(doc: str, command: str, tmp_path: Path) -> None:
    words = shlex.split(command)
    verb = words[1]
    args = words[1:]
    if verb in CHECKED:
        args.append("--check")
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"{doc}: {command}\n{proc.stderr[-2000:]}"
