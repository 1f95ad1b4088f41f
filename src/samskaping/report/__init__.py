"""The HTML report of a ``predict.py`` output folder (:mod:`~samskaping.report.html_report`).

Command line (rebuilds the report of an existing folder; :mod:`samskaping.cli.report`)::

    python -m samskaping.report DIR
"""

from samskaping.outputs import read_output
from samskaping.report.html_report import EXAMPLES_PER_LABEL, REPORT_NAME, render_report, write_report

__all__ = ["EXAMPLES_PER_LABEL", "REPORT_NAME", "read_output", "render_report", "write_report"]
