"""Meta-World v3 simulation: environment factory, task registry, oracle progress, scripted demos of set quality."""

from rabc.sim.demos import QUALITY_NAMES, CorruptionParams, Episode, Quality, parse_quality, run_episode
from rabc.sim.env import CAMERAS, CONTROL_FPS, MetaWorldEnv, split_raw_obs
from rabc.sim.oracle import OracleProgress
from rabc.sim.tasks import DEFAULT_HELDOUT_TASKS, DEFAULT_TRAIN_TASKS, TASKS, TaskSpec, get_task

__all__ = [
    "CAMERAS",
    "CONTROL_FPS",
    "CorruptionParams",
    "DEFAULT_HELDOUT_TASKS",
    "DEFAULT_TRAIN_TASKS",
    "Episode",
    "MetaWorldEnv",
    "OracleProgress",
    "QUALITY_NAMES",
    "Quality",
    "TASKS",
    "TaskSpec",
    "get_task",
    "parse_quality",
    "run_episode",
    "split_raw_obs",
]
