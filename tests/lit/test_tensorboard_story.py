"""The TensorBoard of a run tells its story: rollout success during training with a frame strip, the hparams tab
with final metrics, weight histograms per demo class and the progress-curve figure; without a TensorBoard logger
the figures are skipped and the rollouts still run."""

import numpy as np
import pytest

from rabc.data.splits import sample_episodes
from rabc.lit.callbacks import RolloutEval, frame_strip
from rabc.lit.run import train
from tests.lit.test_train_e2e import _cfg, _tiny_overrides

ROLLOUT = [
    "tensorboard.rollout_every_n_steps=2",
    "tensorboard.rollout_episodes=1",
    "tensorboard.rollout_max_steps=6",
    "tensorboard.rollout_batch_size=1",
    "tensorboard.rollout_frames=4",
]


def test_tensorboard_holds_rollouts_hparams_histograms_and_progress_figure(tiny_dataset, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    overrides = [o for o in _tiny_overrides(tiny_dataset, "experiment=act_top_awr") if o != "logger=none"]
    cfg = _cfg([*overrides, "logger=tensorboard", "tensorboard.progress_episodes=3", *ROLLOUT])
    result = train(cfg, run)
    assert result["steps"] == 4
    acc = EventAccumulator(str(run / "tb"), size_guidance={"histograms": 0, "scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = set(tags["scalars"])
    tasks = {"push-v3", "drawer-open-v3"}  # the training tasks (the held-out task is not rolled out)
    assert {"eval/success", *(f"eval/success/{t}" for t in tasks)} <= scalars, scalars
    assert [e.step for e in acc.Scalars("eval/success")] == [2, 4]  # every 2 steps
    assert all(0.0 <= e.value <= 1.0 for e in acc.Scalars("eval/success"))
    # a frame strip of one rollout and the progress figure
    strip = [t for t in tags["images"] if t.startswith("eval/rollout/")]
    assert len(strip) == 1 and strip[0].removeprefix("eval/rollout/") in tasks
    img = acc.Images(strip[0])[-1]
    assert img.width > 3 * img.height  # four frames side by side
    assert "story/progress" in tags["images"]
    # per-class weight histograms (the tiny dataset is labelled clean / detour / fail), all frames too
    assert {"weights/clean", "weights/detour", "weights/fail", "weights/all"} <= set(tags["histograms"])
    # the hparams tab: the plugin's session data with the run's parameters and final metrics
    plugins = acc.PluginTagToContent("hparams")
    assert {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"} <= set(
        plugins
    )
    from tensorboard.plugins.hparams import plugin_data_pb2

    start = plugin_data_pb2.HParamsPluginData.FromString(plugins["_hparams_/session_start_info"])
    hp = start.session_start_info.hparams
    assert hp["scheme"].string_value == cfg.weighting.name and hp["policy"].string_value == "act"
    assert hp["seed"].number_value == 0 and hp["batch_size"].number_value == 8
    assert "weighting/temperature" in hp
    exp = plugin_data_pb2.HParamsPluginData.FromString(plugins["_hparams_/experiment"]).experiment
    metrics = {m.name.tag for m in exp.metric_infos}
    assert {"hp/val_loss", "hp/ess_frac", "hp/eval_success", "hp/separation_auc"} <= metrics, metrics
    assert {"hp/val_loss", "hp/ess_frac", "hp/eval_success"} <= scalars
    final = acc.Scalars("hp/eval_success")[-1].value
    assert final == acc.Scalars("eval/success")[-1].value


def test_without_a_logger_rollouts_still_run_and_figures_are_skipped(tiny_dataset, tmp_path, caplog):
    caplog.set_level("INFO", logger="rabc.lit.callbacks")
    cfg = _cfg(_tiny_overrides(tiny_dataset, "experiment=act_bc", "trainer.max_steps=2", *ROLLOUT))
    train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "tb").exists()
    assert "step 2: rollout success" in caplog.text


def test_rollout_eval_refuses_bad_settings():
    with pytest.raises(ValueError, match="rollout_every_n_steps"):
        RolloutEval(None, ["push-v3"], every_n_steps=0)
    with pytest.raises(ValueError, match="env task names"):
        RolloutEval(None, [""], every_n_steps=5)


def test_frame_strip_and_episode_sampling():
    frames = np.zeros((10, 8, 6, 3), dtype=np.uint8)
    assert frame_strip(frames, 4).shape == (8, 4 * 6 + 3 * 2, 3)
    assert frame_strip(frames[:2], 4).shape == (8, 2 * 6 + 2, 3)
    import pandas as pd

    eps = pd.DataFrame({"episode_index": range(6), "quality_name": ["clean", "fail"] * 3})
    picked = sample_episodes(eps["episode_index"], eps["quality_name"], 2)
    assert len(picked) == 2 and {eps.quality_name[i] for i in picked} == {"clean", "fail"}
    assert sample_episodes(eps["episode_index"], eps["quality_name"], 10) == list(range(6))
