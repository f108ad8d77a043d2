"""Generate the mixed-quality Meta-World demo dataset and its oracle progress.

python scripts/make_dataset.py                         # configs/dataset/default.yaml (CI size)
python scripts/make_dataset.py mix=adverse root=data/adverse overwrite=true
python scripts/make_dataset.py --config-name full      # 50 demos per task
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from rabc.data.generate import ORACLE_PROGRESS_PATH, GenerateConfig, generate_dataset  # noqa: E402
from rabc.data.lerobot_io import SIDECAR_PATH  # noqa: E402

log = logging.getLogger("make_dataset")


@hydra.main(config_path="../configs/dataset", config_name="default", version_base="1.3")
def main(cfg: DictConfig) -> None:
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(kwargs, dict)
    kwargs.pop("hydra", None)
    kwargs["root"] = hydra.utils.to_absolute_path(kwargs["root"])
    gen = GenerateConfig(**kwargs)
    side = generate_dataset(gen, show_progress=True)
    root = gen.root
    stats = side["stats"]
    print(f"dataset:         {root}  ({stats['num_episodes']} episodes, {stats['num_frames']} frames)")
    print(f"oracle progress: {os.path.join(root, ORACLE_PROGRESS_PATH)}")
    print(f"sidecar:         {os.path.join(root, SIDECAR_PATH)}")
    print(
        f"time {stats['total_seconds']:.1f} s ({stats['seconds_per_episode']:.2f} s/episode), "
        f"video {stats['video_bytes'] / 1e6:.2f} MB"
    )
    for name, q in side["per_quality"].items():
        if q["episodes"]:
            print(f"  {name:9s} {q['episodes']:4d} episodes, success {q['success_rate']:.2f}")


if __name__ == "__main__":
    main()
