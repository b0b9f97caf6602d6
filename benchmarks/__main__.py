"""``python -m benchmarks [--quick] [--json] [--horizon D]``: the same report as ``workbench bench``.

The runner lives in ``workbench.validation.speed`` so the installed ``workbench``
command can import it; this wrapper keeps ``benchmarks/`` the place to run it from.
``benchmarks/trace_replay.py`` is a separate benchmark (``python -m benchmarks.trace_replay``).
"""

from __future__ import annotations

import sys

from workbench.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
