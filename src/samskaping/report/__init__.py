"""A self-contained HTML report (in Norwegian) of a ``predict.py`` output folder.

``write_report(DIR)`` reads the folder (:func:`samskaping.outputs.read_output`)
and writes ``DIR/report.html`` from the Jinja2 template ``report.html.j2``
(autoescaping on, so every text taken from the data is HTML-escaped): the
corpus overview («X av N planer nevner samskaping»), the dominant conception of
each plan, a chart of conception shares per plan (with 95 % intervals where
the folder has them), promoting and hindering counts per factor, and the most
confident *sure* example sentences for every conception and factor. The page
needs nothing outside itself: the charts are embedded PNG images and the style
sheet is inline. The file is written atomically.

Command line (rebuilds the report of an existing folder; :mod:`samskaping.cli.report`)::

    python -m samskaping.report DIR
"""

from samskaping.outputs import read_output
from samskaping.report.html_report import EXAMPLES_PER_LABEL, REPORT_NAME, render_report, write_report

__all__ = ["EXAMPLES_PER_LABEL", "REPORT_NAME", "read_output", "render_report", "write_report"]
