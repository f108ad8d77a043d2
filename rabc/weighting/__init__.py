"""Progress → advantage → per-frame weight schemes, the weights parquet, and weight diagnostics.

scheme = TopAWR(horizon_s=1.0, temperature="std/3")
result = scheme(progress_table, fps)                      # WeightResult(index, advantage, weight)
result, meta = compute_weights("progress.parquet", scheme)  # + metadata for the weights file
write_weights("weights.parquet", result, meta)
table = WeightTable.load("weights.parquet", expect_num_frames=n, expect_fingerprint=fp)
w = table.lookup(global_indices)  # float32, same shape
"""

from rabc.weighting.core import WeightResult, horizon_frames, resolve_temperature
from rabc.weighting.diagnostics import (
    effective_sample_size,
    format_diagnostics,
    plot_weight_histogram,
    weight_diagnostics,
)
from rabc.weighting.schemes import (
    SCHEMES,
    AdvantageScheme,
    Episode,
    EpisodeInfo,
    ExpAdv,
    FilteredBC,
    Sarm,
    TopAWR,
    TopK,
    Uniform,
    WeightingScheme,
)
from rabc.weighting.separation import format_separation, segment_labels, separation_report
from rabc.weighting.table import WeightTable, compute_weights, resolve_fps, write_weights

__all__ = [
    "SCHEMES",
    "AdvantageScheme",
    "Episode",
    "EpisodeInfo",
    "ExpAdv",
    "FilteredBC",
    "Sarm",
    "TopAWR",
    "TopK",
    "Uniform",
    "WeightResult",
    "WeightTable",
    "WeightingScheme",
    "compute_weights",
    "effective_sample_size",
    "format_separation",
    "segment_labels",
    "separation_report",
    "format_diagnostics",
    "horizon_frames",
    "plot_weight_histogram",
    "resolve_fps",
    "resolve_temperature",
    "weight_diagnostics",
    "write_weights",
]
