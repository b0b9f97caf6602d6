"""The bottom of the model: the simulated clock and its agenda of timers, named random streams and
samplers, and the network (endpoints, links, cuts, TCP).

May import: nothing else of the model; ``scenario`` and below.
"""
