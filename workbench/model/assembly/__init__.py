"""Putting it together: the builder of one cluster (world.py), of several on one clock
(deployment.py), and idle elision over the whole (quiescence.py).
"""
