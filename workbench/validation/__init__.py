"""Experiments that check the model against theory and published measurements."""
