"""The simulation environment: SimPy's, with the model's event queue (``kernel.Agenda``).

Kept out of the compiled modules (``setup.py``): it subclasses ``simpy.Environment``, an
ordinary Python class, and only SimPy's own (slower) paths go through it. The hot path
reaches the agenda directly.
"""

from __future__ import annotations

import simpy
from simpy.core import EmptySchedule
from simpy.events import NORMAL, Event, EventPriority

from workbench.model.kernel.kernel import Agenda, SimPyEvent


class Environment(simpy.Environment):
    """A ``simpy.Environment`` whose event queue is an :class:`Agenda`.

    Processes, timeouts and every other SimPy event work as usual (``schedule``, ``step``,
    ``peek``, ``run`` and ``now`` keep their meaning and their order); the model's own
    entries go on the same queue without becoming SimPy events.
    """

    def __init__(self, initial_time: float = 0.0):
        super().__init__(initial_time)
        self.agenda = Agenda(float(initial_time))

    @property
    def now(self) -> float:
        """Simulated time in seconds: the agenda's clock."""
        return self.agenda.now

    def schedule(self, event: Event, priority: EventPriority = NORMAL, delay: float = 0) -> None:
        """Queue a SimPy event ``delay`` seconds from now, as ``simpy.Environment.schedule`` does."""
        agenda = self.agenda
        agenda.push_priority(SimPyEvent(event), agenda.now + delay, int(priority))

    def peek(self) -> float:
        """Time of the next queued entry (infinity when none is left)."""
        return self.agenda.peek()

    def step(self) -> None:
        """Process the next queued entry: move the clock to it and run its callbacks;
        ``EmptySchedule`` when none is left."""
        agenda = self.agenda
        try:
            entry = agenda.pop()
        except IndexError:
            raise EmptySchedule from None
        agenda.now = entry.at
        callbacks = entry.callbacks
        entry.callbacks = None
        for callback in callbacks:  # type: ignore[union-attr]  # queued, so set
            callback(entry)
