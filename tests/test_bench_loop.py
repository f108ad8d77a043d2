"""benchmarks/bench_loop.py gives rabc's train.py and lerobot-train the same policy, optimizer and data settings."""

import dataclasses
from pathlib import Path

from lerobot.configs import FeatureType
from lerobot.utils.feature_utils import dataset_to_policy_features

from benchmarks import bench_loop
from rabc.data.generate import dataset_features
from rabc.policies.factory import build_config
from tests.conftest import compose_config


def _state_only_features():
    """Policy features of a generated dataset without its camera, split the way lerobot's make_policy splits them."""
    spec = {k: v for k, v in dataset_features("corner", 32).items() if v["dtype"] != "video"}
    features = dataset_to_policy_features(spec)
    outputs = {k: f for k, f in features.items() if f.type is FeatureType.ACTION}
    return {k: f for k, f in features.items() if k not in outputs}, outputs


def _lerobot_cfg(batch=16, workers=1, steps=7):
    import draccus
    import lerobot.policies  # noqa: F401  (registers --policy.type=act)
    from lerobot.configs.train import TrainPipelineConfig

    args = bench_loop.lerobot_args(Path("/data/ds"), bench_loop.REPO_ID, Path("/out"), steps, batch, workers)
    cfg = draccus.parse(TrainPipelineConfig, args=args)
    cfg.optimizer = cfg.policy.get_optimizer_preset()  # what validate() does under use_policy_training_preset
    return cfg


def test_lerobot_train_gets_the_act_rabc_builds():
    inputs, outputs = _state_only_features()
    theirs = _lerobot_cfg().policy
    theirs.input_features, theirs.output_features = inputs, outputs  # lerobot's make_policy fills these
    act = bench_loop.act_config()
    ours = build_config(act.pop("name"), input_features=inputs, output_features=outputs, device="cpu", **act)
    a, b = dataclasses.asdict(theirs), dataclasses.asdict(ours)
    differ = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
    # rabc never pushes and builds its optimizer from configs/train.yaml (checked below), not from these fields
    assert differ <= {"push_to_hub", "optimizer_lr", "optimizer_weight_decay"}, {
        k: (a[k], b[k]) for k in differ
    }
    assert theirs.push_to_hub is False and not theirs.image_features and theirs.env_state_feature is not None


def test_both_loops_get_the_same_training_settings():
    theirs = _lerobot_cfg(batch=16, workers=1, steps=7)
    cmd = bench_loop.rabc_command(Path("/data/ds"), Path("/out"), 7, 16, 1)
    overrides = [a for a in cmd[2:] if not a.startswith("hydra.")]
    ours = compose_config("train", overrides)
    assert ours.policy.name == "act" and ours.weighting.name == "uniform" and not ours.logger
    assert (ours.data.batch_size, ours.data.num_workers) == (theirs.batch_size, theirs.num_workers) == (16, 1)
    assert ours.trainer.max_steps == theirs.steps == 7 and ours.seed == theirs.seed
    assert ours.dataset.root == theirs.dataset.root == "/data/ds"
    assert ours.optimizer._target_ == "torch.optim.AdamW" and type(theirs.optimizer).__name__ == "AdamWConfig"
    assert (ours.optimizer.lr, ours.optimizer.weight_decay) == (
        theirs.optimizer.lr,
        theirs.optimizer.weight_decay,
    )
    assert ours.trainer.gradient_clip_val == theirs.optimizer.grad_clip_norm
    assert ours.trainer.limit_val_batches == 0 and theirs.eval_steps == 0 and theirs.env is None
    assert ours.trainer.accelerator == theirs.policy.device == "cpu"
    assert not theirs.wandb.enable and not theirs.save_checkpoint_to_hub and theirs.save_freq <= 0
