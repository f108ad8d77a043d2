"""rabc: reward-aligned behaviour cloning with TOPReward progress weights.

Layers (imports point downwards only; checked by import-linter in CI):
    rabc.lit, rabc.reward          Lightning training / frozen VLM scorers
    rabc.data                      LeRobot v3 datasets, sim demo generation, weighted datasets
    rabc.weighting, rabc.metrics,
    rabc.policies, rabc.sim        pure building blocks
    rabc.progress, rabc.io         the on-disk contracts (progress / weights parquet, atomic writes)
    rabc.types                     batch-key constants
"""

__version__ = "0.1.0"
