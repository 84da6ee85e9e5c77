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
* :func:`lambda_sweep` (TOST equivalence at +-0.5 pp) and :func:`lambda_frontier`
  (per dataset x architecture: the largest equivalent lambda and its energy reduction)
* :func:`efficiency` -> :class:`EfficiencyResult` (matched pairs by default, the pooled
  family means with ``method="pooled"``)
* :func:`format_tables` (the text the ``stats`` command prints),
  :func:`write_report` (``report.md`` and PNG figures): both render the one list of
  sections ``report.SECTIONS`` through :mod:`neuroenergy.stats.document`
* :mod:`neuroenergy.stats.paper`: the paper's claims, the thresholds used and the verdict rules
"""

from neuroenergy.stats._cube import DroppedCellsWarning, StatsWarning
from neuroenergy.stats.anova import anova, anova_frame
from neuroenergy.stats.compare import best_architectures, interaction_table, posthoc
from neuroenergy.stats.efficiency import EfficiencyResult, efficiency
from neuroenergy.stats.report import format_tables, write_report
from neuroenergy.stats.sweep import lambda_frontier, lambda_sweep

__all__ = [
    "anova",
    "anova_frame",
    "best_architectures",
    "posthoc",
    "interaction_table",
    "lambda_sweep",
    "lambda_frontier",
    "efficiency",
    "EfficiencyResult",
    "format_tables",
    "write_report",
    "DroppedCellsWarning",
    "StatsWarning",
]
