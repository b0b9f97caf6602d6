"""Experiments that check the model against theory and published measurements.

May import: ``study``, ``charts``, ``display``, ``analysis``, ``experiment``, ``results``,
``model``, ``scenario`` and below; never the CLI or the notebook helpers.
"""
