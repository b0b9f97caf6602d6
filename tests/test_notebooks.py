"""Every notebook runs top to bottom on a small setting; a cell that raises fails the build."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

CDN = re.compile(r"(cdn\.jsdelivr|unpkg\.com|cdnjs|https?:\\?/\\?/cdn\.)", re.IGNORECASE)
# A script, stylesheet or image fetched from the network: src="http..." or href="http..." (JSON-escaped quotes too).
REMOTE_SOURCE = re.compile(r"(src|href)=\\?[\"']https?:", re.IGNORECASE)
NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_SMOKE", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    ]
    assert not errors
    # Workshops have bad Wi-Fi: no output may load anything from a CDN or any web address.
    outputs = json.dumps([cell.get("outputs", []) for cell in nb.cells if cell.cell_type == "code"])
    assert not CDN.search(outputs), CDN.search(outputs).group(0)
    assert not REMOTE_SOURCE.search(outputs), REMOTE_SOURCE.search(outputs).group(0)


def test_notebooks_are_committed_without_outputs() -> None:
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert all(not cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), path.name


def test_there_is_at_least_one_notebook() -> None:
    assert NOTEBOOKS
    assert os.path.exists(NOTEBOOKS[0])
