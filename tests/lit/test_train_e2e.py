"""train.py / eval.py end to end on a tiny generated dataset, every experiment config, resume, provenance checks."""

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from rabc.data import dataset_fingerprint, load_dataset
from rabc.data.weighted import FrameWindowDataset
from rabc.io import RabcFileError, file_sha256
from rabc.lit.run import train
from rabc.policies import make_policy
from tests.conftest import compose_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))


def _cfg(overrides):
    return compose_config("train", overrides)


def _tiny_overrides(root, *extra):
    return [
        f"dataset.root={root}",
        "debug=tiny",
        "logger=none",
        "trainer.enable_model_summary=false",
        "trainer.max_steps=4",
        "trainer.val_check_interval=2",
        "data.val_fraction=0.3",
        *extra,
    ]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_instantiates(experiment, tiny_dataset):
    cfg = _cfg([f"experiment={experiment}", f"dataset.root={tiny_dataset}"])
    scheme = instantiate(OmegaConf.to_container(cfg.weighting, resolve=True))
    assert scheme.name == cfg.weighting.name
    # GPU/DDP trainer configs are checked for valid keys on the CPU of the test machine
    trainer = instantiate(
        cfg.trainer, accelerator="cpu", devices=1, strategy="auto", logger=False, enable_checkpointing=False
    )
    assert trainer.max_steps == cfg.trainer.max_steps
    policy_kw = OmegaConf.to_container(cfg.policy, resolve=True)
    name = policy_kw.pop("name")
    policy, pre, post = make_policy(name, ds_meta=load_dataset(tiny_dataset).meta, **policy_kw)
    assert policy.chunk_size == cfg.policy.chunk_size


def test_config_typo_fails_at_compose_time():
    with pytest.raises(Exception, match="batchsize"):
        _cfg(["data.batchsize=3"])


def test_train_resume_and_eval_act(tiny_dataset, tmp_path):
    run = tmp_path / "run"
    cfg = _cfg(_tiny_overrides(tiny_dataset, "experiment=act_top_awr"))
    result = train(cfg, run)
    assert result["steps"] == 4 and np.isfinite(result["train/loss"]) and "val/loss_unweighted" in result
    for f in (
        "run.json",
        "weights.parquet",
        "weights_diagnostics.json",
        "policy/config.json",
        "checkpoints/last.ckpt",
    ):
        assert (run / f).is_file(), f
    record = json.loads((run / "run.json").read_text())
    assert record["seed"] == cfg.seed and record["config"]["weighting"]["name"] == cfg.weighting.name
    assert record["weights_sha256"] == file_sha256(run / "weights.parquet")
    assert record["dataset_fingerprint"] == dataset_fingerprint(tiny_dataset)
    assert record["git_sha"] is None or len(record["git_sha"]) == 40
    # resume continues the same run: the step count carries on from the checkpoint
    cfg2 = _cfg(
        _tiny_overrides(tiny_dataset, "experiment=act_top_awr", "trainer.max_steps=6", "ckpt_path=last")
    )
    assert train(cfg2, run)["steps"] == 6

    from rabc.lit.evaluate import evaluate

    report = evaluate(run, episodes=2, max_steps=15, batch_size=2, seed_split="val")
    assert set(report["tasks"]) == {"push-v3", "drawer-open-v3"}
    assert set(report["heldout_tasks"]) == {"drawer-close-v3"}
    assert report["overall"]["episodes"] == 4 and 0.0 <= report["overall"]["rate"] <= 1.0
    assert (run / "eval_val.json").is_file()
    # each task, held-out ones included, rolls out on its own block of validation env seeds
    blocks = [set(s) for s in report["seeds"].values()]
    assert len(blocks) == 3 and all(min(b) >= 10_000_000 for b in blocks)
    assert all(a.isdisjoint(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert report["tasks"]["push-v3"]["env_seeds"] == report["seeds"]["push-v3"]

    # a Lightning checkpoint evaluates too: the same weights as the export, rebuilt from run.json; here over
    # one pool of 2 worker processes for both tasks, with the serial run's outcomes
    _assert_same_weights(run)
    ckpt = run / "checkpoints" / "last.ckpt"
    report_ckpt = evaluate(
        ckpt, episodes=2, max_steps=15, batch_size=2, seed_split="val", heldout_tasks=[], record_videos=1,
        num_workers=2,
    )  # fmt: skip
    assert report_ckpt["checkpoint"] == str(ckpt) and (run / "eval_val_last.json").is_file()
    for task, res in report_ckpt["tasks"].items():
        assert res["successes"] == report["tasks"][task]["successes"]
        assert res["mean_steps"] == report["tasks"][task]["mean_steps"]
        (video,) = (run / "videos" / task).glob("*.mp4")  # record_videos=1 per task
        assert iio.imread(video, plugin="pyav").shape[0] >= res["mean_steps"] > 0
    with pytest.raises(RabcFileError, match="checkpoint file not found"):
        evaluate(run / "checkpoints" / "nope.ckpt")

    # the eval.py CLI on the .ckpt (Hydra logs go to <run>/eval_logs, not into the checkpoint's path)
    out = run / "cli_eval.json"
    args = ["episodes=1", "max_steps=5", "batch_size=1", "heldout_tasks=[]", "seed_split=val", f"out={out}"]
    proc = subprocess.run(
        [sys.executable, str(REPO / "eval.py"), f"checkpoint={ckpt}", *args],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "success " in proc.stdout and json.loads(out.read_text())["overall"]["episodes"] == 2
    assert (run / "eval_logs").is_dir()


def _assert_same_weights(run):
    """The policy rebuilt from ``checkpoints/last.ckpt`` (EMA weights if any) equals the exported ``policy/``."""
    from rabc.lit.evaluate import _read_run, load_checkpoint_policy
    from rabc.policies import load_pretrained

    exported = load_pretrained(run / "policy")[0].state_dict()
    rebuilt = load_checkpoint_policy(run / "checkpoints" / "last.ckpt", _read_run(run))[0].state_dict()
    assert exported.keys() == rebuilt.keys()
    for k in exported:
        torch.testing.assert_close(exported[k], rebuilt[k], rtol=0, atol=0, msg=k)


def test_train_diffusion_with_weighted_sampling(tiny_dataset, tmp_path):
    cfg = _cfg(_tiny_overrides(tiny_dataset, "experiment=diffusion_top_awr", "data.sampling=sample"))
    result = train(cfg, tmp_path / "run")
    assert result["steps"] == 4 and np.isfinite(result["train/loss"])
    assert (tmp_path / "run" / "policy" / "model.safetensors").is_file()
    # eval.py rebuilds the Diffusion policy (EMA weights) from the run's own export and rolls it out
    from rabc.lit.evaluate import evaluate

    report = evaluate(tmp_path / "run", episodes=1, max_steps=10, batch_size=1, heldout_tasks=[])
    assert report["policy"] == "diffusion" and report["overall"]["episodes"] == 2
    _assert_same_weights(tmp_path / "run")  # the checkpoint's EMA weights are the exported ones


def test_weights_from_another_dataset_are_rejected(tiny_dataset, tmp_path):
    run = tmp_path / "a"
    train(_cfg(_tiny_overrides(tiny_dataset, "trainer.max_steps=1")), run)
    # same file, but claims another dataset's fingerprint
    from rabc.io import read_parquet, write_parquet

    table, meta = read_parquet(run / "weights.parquet")
    write_parquet(tmp_path / "w.parquet", table, {**meta, "dataset_fingerprint": "0" * 64})
    with pytest.raises(RabcFileError, match="another dataset"):
        train(_cfg(_tiny_overrides(tiny_dataset, f"weights={tmp_path / 'w.parquet'}")), tmp_path / "b")


def test_frame_windows_match_lerobot(tiny_dataset):
    """The in-memory window dataset returns what lerobot's own __getitem__ returns (values and padding)."""
    delta = {"action": list(range(-2, 6)), "observation.state": [-1, 0]}
    fps = load_dataset(tiny_dataset).meta.fps
    ref = load_dataset(tiny_dataset, delta_timestamps={k: [i / fps for i in v] for k, v in delta.items()})
    hf = ref.hf_dataset.with_format("numpy")
    cols = {k: np.asarray(hf[k]) for k in ("index", "episode_index", "action", "observation.state")}
    eps = ref.meta.episodes
    bounds = {
        int(e): (int(a), int(b))
        for e, a, b in zip(eps["episode_index"], eps["dataset_from_index"], eps["dataset_to_index"])
    }
    ours = FrameWindowDataset(cols, bounds, delta)
    for i in [0, 1, 5, len(ours) - 1, int(bounds[1][0]), int(bounds[1][0]) - 1]:
        a, b = ours[i], ref[i]
        for k in ("action", "observation.state", "action_is_pad", "observation.state_is_pad"):
            torch.testing.assert_close(a[k], b[k], msg=k)


def test_train_act_with_camera_reads_lerobot_videos(tiny_dataset, tmp_path):
    cfg = _cfg(
        _tiny_overrides(
            tiny_dataset,
            "experiment=act_bc",
            "policy.use_images=true",
            "trainer.max_steps=2",
            "data.batch_size=4",
        )
    )
    result = train(cfg, tmp_path / "run")
    assert result["steps"] == 2 and np.isfinite(result["train/loss"])
    config = (tmp_path / "run" / "policy" / "config.json").read_text()
    assert "observation.images.corner" in config


def test_tensorboard_gets_every_training_metric(tiny_dataset, tmp_path):
    """The TensorBoard logger of a run holds the loss (weighted and not), the weight statistics incl. the effective
    sample size, the validation loss, the learning rate and weight histograms."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    overrides = [o for o in _tiny_overrides(tiny_dataset, "experiment=act_top_awr") if o != "logger=none"]
    train(_cfg([*overrides, "logger=tensorboard", "trainer.log_every_n_steps=1"]), run)
    (events,) = (run / "tb").glob("events.out.tfevents.*")
    acc = EventAccumulator(str(events), size_guidance={"histograms": 0, "scalars": 0})
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    expected = {"train/loss", "train/loss_unweighted", "val/loss_unweighted", "weights/mean", "weights/std",
                "weights/min", "weights/max", "weights/zero_frac", "weights/ess", "weights/ess_frac"}  # fmt: skip
    assert expected <= scalars, expected - scalars
    assert any(t.startswith("lr-") for t in scalars), scalars  # LearningRateMonitor
    assert "weights/batch" in acc.Tags()["histograms"]
    assert len(acc.Scalars("train/loss")) == 4  # one per step at log_every_n_steps=1


def test_multirun_sweep_over_weightings(tiny_dataset, tmp_path):
    """``python train.py -m ... weighting=a,b``: one run directory per setting, each with its own weights."""
    sweep = tmp_path / "sweep"
    args = ["-m", "experiment=act_bc", "weighting=uniform,top_awr", f"dataset.root={tiny_dataset}", "debug=tiny",
            "logger=none", "trainer.max_steps=2", "trainer.val_check_interval=2", "data.val_fraction=0.3",
            f"hydra.sweep.dir={sweep}"]  # fmt: skip
    proc = subprocess.run([sys.executable, str(REPO / "train.py"), *args], capture_output=True, text=True,
                          cwd=REPO, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = {
        json.loads(p.read_text())["config"]["weighting"]["name"]: p.parent for p in sweep.glob("*/run.json")
    }
    assert set(runs) == {"uniform", "top_awr"}
    assert all((d / "policy" / "model.safetensors").is_file() for d in runs.values())
    assert file_sha256(runs["uniform"] / "weights.parquet") != file_sha256(
        runs["top_awr"] / "weights.parquet"
    )


def test_forward_horizon_shorter_than_the_executed_chunk_is_refused(tiny_dataset, tmp_path):
    """A forward increment must span the actions the policy executes per chunk; the error names both."""
    from rabc.data import dataset_info
    from rabc.data.oracle import oracle_progress_path

    fps = dataset_info(tiny_dataset).fps
    short = _tiny_overrides(
        tiny_dataset,
        "weighting=top_awr_tempered",
        f"progress={oracle_progress_path(tiny_dataset)}",
        "policy.n_action_steps=8",
        f"weighting.horizon_s={4 / fps}",
    )
    with pytest.raises(ValueError, match=r"horizon is 4 frames .* shorter than the 8 actions"):
        train(_cfg(short), tmp_path / "short")
    ok = [*short[:-1], f"weighting.horizon_s={8 / fps}", "trainer.max_steps=1"]
    train(_cfg(ok), tmp_path / "ok")
    assert (tmp_path / "ok" / "weights.parquet").is_file()
