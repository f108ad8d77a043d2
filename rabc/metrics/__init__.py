"""Reward-model metrics (VOC, success-detection AUC, static-frame bias check) and confidence intervals.

Pure numpy/scipy/sklearn: no torch.
"""

from rabc.metrics.reward import (
    static_frame_voc,
    success_auc,
    success_score,
    voc,
    voc_per_episode,
)
from rabc.metrics.scorer_quality import EpisodeCurves, quality_markdown, rise_share, scorer_quality_table
from rabc.metrics.stats import (
    Comparison,
    binomial_ci,
    bootstrap_aggregate_ci,
    bootstrap_ci,
    compare_to_baseline,
    hierarchical_bootstrap,
    verdict,
    wilson_interval,
)

__all__ = [
    "EpisodeCurves",
    "quality_markdown",
    "rise_share",
    "scorer_quality_table",
    "Comparison",
    "binomial_ci",
    "compare_to_baseline",
    "hierarchical_bootstrap",
    "verdict",
    "bootstrap_aggregate_ci",
    "bootstrap_ci",
    "static_frame_voc",
    "success_auc",
    "success_score",
    "voc",
    "voc_per_episode",
    "wilson_interval",
]
