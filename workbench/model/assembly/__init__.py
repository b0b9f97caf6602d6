"""Putting it together: the builder of one cluster (world.py), of several on one clock
(deployment.py), and idle elision over the whole (quiescence.py).

May import: every model folder; ``scenario`` and below. Only these builders see the whole model
(``tests/model/test_wiring.py``).
"""
