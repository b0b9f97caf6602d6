"""Notebook widgets: the scenario explorer, built from the scenario schema."""

from workbench.ui.explorer import ConfigPanel, Explorer

__all__ = ["ConfigPanel", "Explorer"]
