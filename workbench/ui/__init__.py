"""Notebook widgets: the scenario explorer, built from the scenario schema.

May import: ``study``, ``charts``, ``display``, ``analysis``, ``experiment``, ``results``,
``scenario`` and below; never the CLI or the notebook helpers.
"""

from workbench.ui.explorer import ConfigPanel, Explorer

__all__ = ["ConfigPanel", "Explorer"]
