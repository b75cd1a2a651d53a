"""The audit report: one self-contained HTML file for auditors, built from the ledger.

  data.py    what the report says, read through the Ledger facade (no table scan)
  charts.py  inline SVG charts, drawn in Python (no script, font or image to load)
  html.py    the page: summary figures, charts, incidents, objects given up, RTC misses

It needs no Lambda and no CLI: ``build_report(ledger, since, until)`` then ``render_html(report)``;
``replimend report`` and the demo both call these two.
"""

from replimend_cli.report.data import Report, build_report
from replimend_cli.report.html import render_html

__all__ = ["Report", "build_report", "render_html"]
