"""Reports of runs: one self-contained HTML file per run folder."""

from tailorml.report.html import REPORT_NAME, render_report, write_report

__all__ = ["REPORT_NAME", "render_report", "write_report"]
