"""What a run leaves behind: every event kind declared once (events.py), the recorder's columnar
buffers (recorder.py), the tables' columns, dtypes and units (tables.py), and the periodic
probes (probes.py).

May import: ``model.kernel``; ``scenario`` and below.
"""
