"""Statistics of result cubes: factorial ANOVA with effect sizes, best architectures, post-hoc
tests, lambda-sweep and training-efficiency summaries, and the study report beside the paper's findings.

Every function takes a result cube (``xarray.Dataset``, schema in
``neuroenergy.results.schema``) or the path of one, uses the cells whose
status is ``ok`` and warns (:class:`DroppedCellsWarning`) with a list of the
cells it left out. Single-lambda statistics use ``lam=None`` to mean the
cube's only lambda level, else lambda = 0.

Public API:

* :func:`anova` (and :func:`anova_frame` for a plain table)
* :func:`best_architectures`, :func:`posthoc`, :func:`interaction_table`
* :func:`lambda_sweep`
* :func:`efficiency` -> :class:`EfficiencyResult`
* :func:`format_tables` (the text the ``stats`` command prints),
  :func:`write_report` (``report.md`` and PNG figures)
* :mod:`neuroenergy.stats.paper`: the paper's numbers and the thresholds used
"""

from neuroenergy.stats._cube import DroppedCellsWarning, StatsWarning
from neuroenergy.stats.anova import anova, anova_frame
from neuroenergy.stats.compare import best_architectures, interaction_table, posthoc
from neuroenergy.stats.efficiency import EfficiencyResult, efficiency
from neuroenergy.stats.report import format_tables, write_report
from neuroenergy.stats.sweep import lambda_sweep

__all__ = [
    "anova",
    "anova_frame",
    "best_architectures",
    "posthoc",
    "interaction_table",
    "lambda_sweep",
    "efficiency",
    "EfficiencyResult",
    "format_tables",
    "write_report",
    "DroppedCellsWarning",
    "StatsWarning",
]
