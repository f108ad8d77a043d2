"""LeRobot v3 datasets (offline read/write), mixed-quality sim demo generation, splits, weighted datasets."""

from rabc.data.generate import GenerateConfig, dataset_features, generate_dataset, make_tiny_dataset
from rabc.data.lerobot_io import (
    DatasetInfo,
    create_dataset,
    dataset_fingerprint,
    dataset_info,
    episode_table,
    episodes_meta,
    load_dataset,
    read_episode_frames,
    read_sidecar,
    validate_dataset,
)
from rabc.data.splits import split_episodes

__all__ = [
    "DatasetInfo",
    "GenerateConfig",
    "create_dataset",
    "dataset_features",
    "dataset_fingerprint",
    "dataset_info",
    "episode_table",
    "episodes_meta",
    "generate_dataset",
    "load_dataset",
    "make_tiny_dataset",
    "read_episode_frames",
    "read_sidecar",
    "split_episodes",
    "validate_dataset",
]
