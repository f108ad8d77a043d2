"""Tables and plots from evaluation results (``eval_*.json`` + ``run.json`` + ``weights_diagnostics.json``).

Pure pandas/matplotlib: no torch, no Lightning, so any set of finished runs can be tabulated anywhere.
"""

from rabc.report.build import make_report, plot_table
from rabc.report.results import find_eval_files, load_diagnostics, load_results, source_label
from rabc.report.table4 import NO_HEADROOM, headline, paired_outcomes, table4_rows
from rabc.report.tables import (
    PAPER_TABLE4,
    PAPER_TABLE4_MEAN,
    build_table,
    cell_stat,
    diagnostics_table,
    format_cell,
    to_markdown,
)

__all__ = [
    "NO_HEADROOM",
    "headline",
    "paired_outcomes",
    "table4_rows",
    "PAPER_TABLE4",
    "PAPER_TABLE4_MEAN",
    "build_table",
    "cell_stat",
    "diagnostics_table",
    "find_eval_files",
    "format_cell",
    "load_diagnostics",
    "load_results",
    "make_report",
    "plot_table",
    "source_label",
    "to_markdown",
]
