"""The reports: the text summary the CLI prints (``text.py``), the comparison and capacity reports
in HTML and Markdown (``study_report.py``), and the answers a report leads with (``answers.py``).

May import: ``study``, ``charts``, ``display``, ``analysis``, ``experiment``, ``results``,
``scenario`` and below; never the CLI or the notebook helpers.
"""
