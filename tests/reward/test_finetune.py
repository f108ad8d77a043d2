"""Fine-tuning of the TOPReward scorer (LoRA and full, on Lightning) on the tiny Qwen3-VL and the tiny generated
dataset: objectives, draws, checkpoints and resume, reports, and the two commands' run()."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from rabc.app.finetune_scorer import finetune_stage, train_scorer
from rabc.data import split_episodes
from rabc.io import RabcFileError
from rabc.reward.finetune import (
    GroupDraws,
    PrefixGroup,
    build_groups,
    contrast_loss,
    objective_loss,
    parse_objective,
    prefix_logp,
)
from rabc.reward.finetune_run import StageConfig, evaluate_scorer, random_reference, write_report
from rabc.reward.lora import ADAPTER_WEIGHTS, adapter_hash, add_lora, load_adapter, save_adapter
from rabc.reward.topreward import TopRewardScorer
from tests.reward.conftest import random_frames

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def ft_scorer(tiny_vlm_dir):
    """A private scorer (its model is trained in place) over ≤ 8-frame clips with 5 anchors."""
    return TopRewardScorer(str(tiny_vlm_dir), num_anchors=5, max_frames=8)


@pytest.fixture(scope="module")
def groups(ft_scorer, tiny_dataset):
    train = split_episodes(tiny_dataset, 0.0, 0)["train"]
    return build_groups(ft_scorer, tiny_dataset, train[:3])


@pytest.fixture(scope="module")
def adapted(ft_scorer, groups, tmp_path_factory):
    """LoRA-train the module scorer a few steps; returns (frames, logp before, logp after in memory, adapter dir)."""
    frames = random_frames(8, seed=3)
    before = ft_scorer.score_episode(frames, fps=10.0, instruction="open the drawer").logp_true
    peft_model = add_lora(ft_scorer.adapter.model, r=4, alpha=8)
    train_scorer(peft_model, groups, ft_scorer.answer_ids[0], objective="regression", steps=4, lr=5e-2)
    ft_scorer.adapter.model = peft_model.get_base_model().eval()
    after = ft_scorer.score_episode(frames, fps=10.0, instruction="open the drawer").logp_true
    out = tmp_path_factory.mktemp("adapter")
    digest = save_adapter(peft_model, out)
    return frames, before, after, out, digest


def test_groups_follow_the_scorer_prompt_and_anchors(ft_scorer, groups):
    real = [g for g in groups if not g.static]
    static = [g for g in groups if g.static]
    assert len(real) == len(static) == 3
    for g in real:
        assert len(g.inputs) == len(g.progress) == len(g.time) <= 5
        assert np.all(np.diff(g.time) > 0) and g.time[-1] == 1.0
        ids = g.inputs[-1]["input_ids"][0]
        assert int(ids[-1]) == ft_scorer.answer_ids[0]  # every prefix ends in " True", as in scoring
        assert 0.0 <= g.progress.min() and g.progress.max() <= 1.0
    for g, r in zip(static, real, strict=True):
        assert not g.success and np.all(g.progress == 0)
        # a static clip keeps the real clip's frame times, so the token layout is identical; only pixels differ
        assert torch.equal(g.inputs[-1]["input_ids"], r.inputs[-1]["input_ids"])
        assert not torch.equal(g.inputs[-1]["pixel_values_videos"], r.inputs[-1]["pixel_values_videos"])


def test_lora_training_changes_log_p_and_saves_peft_format(adapted):
    _, before, after, out, _ = adapted
    assert np.abs(after - before).max() > 1e-3
    assert (out / ADAPTER_WEIGHTS).is_file() and (out / "adapter_config.json").is_file()
    cfg = json.loads((out / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4


@pytest.mark.parametrize("merge", [True, False])
def test_saved_adapter_reloads_to_identical_log_p(adapted, tiny_vlm_dir, merge):
    frames, _, after, out, digest = adapted
    scorer = TopRewardScorer(
        str(tiny_vlm_dir), num_anchors=5, max_frames=8, adapter=str(out), merge_adapter=merge
    )
    got = scorer.score_episode(frames, fps=10.0, instruction="open the drawer").logp_true
    np.testing.assert_allclose(got, after, atol=1e-5, rtol=0)
    naive = TopRewardScorer(
        str(tiny_vlm_dir),
        num_anchors=5,
        max_frames=8,
        adapter=str(out),
        merge_adapter=merge,
        prefix_cache=False,
    )
    np.testing.assert_allclose(naive.score_episode(frames, fps=10.0, instruction="open the drawer").logp_true,
                               after, atol=1e-4, rtol=0)  # fmt: skip
    assert scorer.adapter_hash == digest == adapter_hash(out)
    assert len(digest) == 64 and scorer.adapter_path == str(out)


def test_adapter_hash_is_stable_and_bad_dirs_fail(adapted, tmp_path):
    _, _, _, out, digest = adapted
    assert adapter_hash(out) == adapter_hash(out) == digest
    with pytest.raises(RabcFileError, match="adapter_model.safetensors"):
        adapter_hash(tmp_path)
    with pytest.raises(RabcFileError, match="adapter_config.json"):
        load_adapter(torch.nn.Linear(2, 2), tmp_path)


def _toy_group(success: bool = True, static: bool = False, k: int = 5) -> PrefixGroup:
    t = np.arange(1, k + 1) / k
    return PrefixGroup(0, "task", success, static, [None] * k, np.zeros(k) if static else t, t)


@pytest.mark.parametrize("name", ["bce", "ranking", "regression", "progress"])
def test_each_objective_decreases_on_a_toy_batch(name):
    torch.manual_seed(0)
    gs = [_toy_group(), _toy_group(success=False), _toy_group(static=True)]
    logp = torch.nn.Parameter(
        -2.0 - torch.rand(len(gs), 5)
    )  # (G, K) free log p values standing in for the model
    opt = torch.optim.SGD([logp], lr=0.2)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        terms = [objective_loss(name, logp[i].clamp(max=-1e-3), g) for i, g in enumerate(gs)]
        loss = torch.stack([x for x in terms if x is not None]).sum()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_reversed_groups_play_the_episode_backwards(ft_scorer, tiny_dataset, groups):
    ep = split_episodes(tiny_dataset, 0.0, 0)["train"][:1]
    fwd, back = build_groups(ft_scorer, tiny_dataset, ep, static=False, reverse=True)
    assert not fwd.reversed and back.reversed and not back.success and not back.static
    # same frame times (identical token layout), the last prefix of the reversed clip ends on the first frame
    assert torch.equal(back.inputs[-1]["input_ids"], fwd.inputs[-1]["input_ids"])
    np.testing.assert_array_equal(back.time, fwd.time)
    assert back.progress[0] == fwd.progress[-1] and back.progress[-1] == 0.0
    assert torch.equal(fwd.inputs[0]["pixel_values_videos"], groups[0].inputs[0]["pixel_values_videos"])
    # ranking on a reversed clip: falling scores cost less than rising ones; bce: its final prefix is a negative
    lp = torch.tensor([-1.0, -2.0, -3.0, -4.0, -5.0])
    assert objective_loss("ranking", lp, back) < objective_loss("ranking", lp.flip(0), back)
    assert objective_loss("bce", lp, back) < objective_loss("bce", lp.flip(0), back)


def test_objective_semantics():
    lp = torch.tensor([-3.0, -2.0, -1.0])
    g = _toy_group(k=3)
    # ranking: increasing scores on a successful episode cost less than decreasing ones
    assert objective_loss("ranking", lp, g) < objective_loss("ranking", lp.flip(0), g)
    assert objective_loss("ranking", lp, _toy_group(success=False, k=3)) is None
    assert float(objective_loss("ranking", torch.full((3,), -2.0), _toy_group(static=True, k=3))) == 0.0
    # regression: the target is log(f + (1 - f) * progress); progress 1 → log p = 0
    assert float(objective_loss("regression", torch.log(0.05 + 0.95 * torch.tensor(g.time)), g)) < 1e-10
    assert parse_objective("regression:1+ranking:0.5") == {"regression": 1.0, "ranking": 0.5}
    with pytest.raises(ValueError, match="unknown objective"):
        parse_objective("mse")


def test_contrast_loss_orders_equal_length_variants_by_progress():
    y_real, y_static = np.array([0.1, 0.5, 1.0]), np.zeros(3)
    good = [
        torch.tensor([-2.0, -1.0, 0.0]),
        torch.tensor([-2.0, -2.0, -2.0]),
    ]  # real above static by >= margin
    bad = [good[1], good[0]]
    assert float(contrast_loss(good, [y_real, y_static], margin=1.0, min_gap=0.2)) == 0.0
    assert float(contrast_loss(bad, [y_real, y_static], margin=1.0, min_gap=0.2)) > 1.0
    # only pairs with a progress gap >= min_gap count; none → None
    assert contrast_loss(good, [y_real, y_real], margin=1.0, min_gap=0.2) is None
    # hinge scales with the gap: real 0.5 above static needs r_real - r_static >= 0.5
    lp = [torch.tensor([-1.0]), torch.tensor([-1.3])]
    assert float(contrast_loss(lp, [np.array([0.5]), np.zeros(1)], margin=1.0)) == pytest.approx(0.2)


def test_progress_objective_orders_the_anchors_of_failed_demos_by_oracle_progress():
    # a push-away: progress rises to 0.5, then falls to 0 while the prefixes grow
    t = np.arange(1, 6) / 5
    push_away = PrefixGroup(0, "task", False, False, [None] * 5, np.array([0.0, 0.5, 0.5, 0.2, 0.0]), t)
    rising = torch.tensor([-5.0, -4.0, -3.0, -2.0, -1.0])  # what a clock-reading scorer gives
    follows = torch.tensor([-3.0, -1.0, -1.0, -2.0, -3.0])  # falls by >= 1 nat per unit of progress lost
    assert objective_loss("ranking", rising, push_away) is None  # ranking never sees a failed demo
    assert float(objective_loss("progress", follows, push_away)) == 0.0
    assert float(objective_loss("progress", rising, push_away)) > 1.0
    # the margin scales with the progress gap; pairs closer than min_gap do not count
    flat = PrefixGroup(0, "task", False, False, [None] * 2, np.array([0.3, 0.2]), t[:2])
    assert objective_loss("progress", torch.tensor([-2.0, -1.0]), flat, min_gap=0.2) is None
    assert float(objective_loss("progress", torch.tensor([-2.0, -1.0]), flat, min_gap=0.05, margin=2.0)) == (
        pytest.approx(1.2)
    )
    # a static clip (progress 0 everywhere) has no pair
    assert objective_loss("progress", rising, _toy_group(static=True)) is None


def test_contrast_objective_reaches_the_vision_tower_through_equal_prompts(tiny_vlm_dir, tiny_dataset):
    scorer = TopRewardScorer(str(tiny_vlm_dir), num_anchors=4, max_frames=6)
    ep = split_episodes(tiny_dataset, 0.0, 0)["train"][:1]
    gs = build_groups(scorer, tiny_dataset, ep, static=True, reverse=True)
    real, back, frozen = gs
    # same token ids at every anchor: only the pixels tell the variants apart
    for x, y, z in zip(real.inputs, back.inputs, frozen.inputs, strict=True):
        assert torch.equal(x["input_ids"], y["input_ids"]) and torch.equal(x["input_ids"], z["input_ids"])
    model = scorer.adapter.model
    for p in model.parameters():
        p.requires_grad_(True)
    res = train_scorer(
        model, [real, back, frozen], scorer.answer_ids[0], objective="contrast", steps=10, groups_per_step=3,
        anchors_per_group=None, lr=3e-3, contrast_margin=5.0, contrast_min_gap=0.0,
    )  # fmt: skip
    assert len(res.losses) == 10 and np.mean(res.losses[-3:]) < 0.8 * res.losses[0]
    model.zero_grad()
    lps = [torch.stack([prefix_logp(model, x, scorer.answer_ids[0]) for x in g.inputs]) for g in gs]
    contrast_loss(lps, [g.progress for g in gs], margin=5.0, min_gap=0.0).backward()
    vis = [p.grad.abs().sum() for n, p in model.named_parameters() if "visual" in n and p.grad is not None]
    assert vis and float(torch.stack(vis).sum()) > 0


def test_full_training_on_toy_groups_moves_logp_toward_targets(tiny_vlm_dir, groups):
    scorer = TopRewardScorer(str(tiny_vlm_dir), num_anchors=5, max_frames=8)
    model = scorer.adapter.model
    for p in model.parameters():
        p.requires_grad_(True)
    g = [x for x in groups if not x.static][:1]
    res = train_scorer(
        model, g, scorer.answer_ids[0], objective="regression", steps=15, groups_per_step=1, lr=1e-2
    )
    assert res.losses[-1] < res.losses[0]
    lp = torch.stack([prefix_logp(model, x, scorer.answer_ids[0]) for x in g[0].inputs]).detach()
    assert torch.isfinite(lp).all()


def test_finetune_stage_evaluates_saves_and_reports(tiny_vlm_dir, tiny_dataset, tmp_path):
    scorer = TopRewardScorer(str(tiny_vlm_dir), num_anchors=4, max_frames=6)
    splits = split_episodes(tiny_dataset, 0.34, 0)
    splits["train"] = splits["train"][:2]
    stage = StageConfig(objective="ranking+bce", steps=2, groups_per_step=2, anchors_per_group=4)
    res = finetune_stage(scorer, tiny_dataset, splits, stage, tmp_path / "ad")
    assert res["adapter_hash"] == adapter_hash(tmp_path / "ad")
    for when in ("before", "after"):
        for split in ("val", "heldout"):
            m = res[when][split]
            assert len(m["voc_per_episode"]) == len(splits[split]) == len(m["static_voc_per_episode"])
            assert -1.0 <= m["static_voc"] <= 1.0
            assert len(m["static_rise_per_episode"]) == len(m["rise_per_episode"]) == len(splits[split])
            scale = np.mean(np.abs(m["rise_per_episode"]))
            assert m["static_rise_ratio"] == pytest.approx(np.mean(m["static_rise_per_episode"]) / scale)
    reference = random_reference(tiny_dataset, splits, 4)
    assert set(reference) == {"val", "heldout"} and all(-1 <= r["voc"] <= 1 for r in reference.values())
    js, md = write_report(tmp_path, {"stages": {"lora": res}, "random_reference": reference}, "t")
    text = md.read_text()
    assert "| lora | after | heldout |" in text and "| random scorer | – | val |" in text
    assert json.loads(js.read_text(), parse_constant=float)["random_reference"]["val"]["episodes"]


def test_make_indomain_scorer_run(tiny_dataset, tmp_path):
    """The recipe end to end at a toy size (configs/indomain_scorer.yaml): full training, LoRA, report with
    the random reference, checkpoints per stage, and the scorer it reports loads with its
    adapter."""
    from rabc.app import indomain_scorer

    out = tmp_path / "indomain"
    args = [f"out={out}", f"dataset.root={tiny_dataset}", "full.steps=2", "lora.steps=2", "scorer.max_frames=6",
            "scorer.num_anchors=4", "dataset.val_fraction=0.34", "members=1", "min_val_frame_auc=0",
            "scorer.frame_size=[64,64]"]  # fmt: skip
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        res = indomain_scorer.run(compose("indomain_scorer", overrides=args))
    report = json.loads(res.report_json.read_text(), parse_constant=float)
    assert report["adapter_hash"] == res.adapter_hash == adapter_hash(out / "adapter")
    assert set(report["stages"]) == {"full", "lora"} and "val" in report["random_reference"]
    assert "| random scorer |" in res.report_md.read_text()
    assert "warnings" not in report  # every AUC is >= 0
    assert report["scorer"] == {
        "num_anchors": 4,
        "max_frames": 6,
        "frame_size": [64, 64],
    }  # what to score with
    for stage in ("full", "lora"):
        assert (out / "train" / stage / "checkpoints" / "last.ckpt").is_file()
        assert report["stages"][stage]["train"]["steps"] == 2
        assert list((out / "train" / stage).rglob("events.out.tfevents.*"))  # TensorBoard from configs/logger
    scorer = TopRewardScorer(str(res.pretrained), adapter=str(res.adapter), num_anchors=4)
    assert scorer.adapter_hash == report["adapter_hash"]


def test_make_indomain_scorer_keeps_the_member_with_the_best_validation_frame_auc(tiny_dataset, tmp_path):
    """members=2: the recipe from model seeds 0 and 1 on the same videos; the member with the higher frame AUC on
    the validation episodes is copied to <out>/pretrained and <out>/adapter, and the report says which and why."""
    from rabc.app import indomain_scorer

    out = tmp_path / "indomain"
    args = [
        f"out={out}",
        f"dataset.root={tiny_dataset}",
        "full.steps=2",
        "lora.steps=2",
        "scorer.max_frames=6",
        "scorer.num_anchors=4",
        "dataset.val_fraction=0.5",
        "members=2",
        "logger=none",
        "min_val_frame_auc=1.01",
    ]  # fmt: skip  (no scorer reaches it: the warning is always written)
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        res = indomain_scorer.run(compose("indomain_scorer", overrides=args))
    report = json.loads(res.report_json.read_text(), parse_constant=float)
    members = report["members"]
    assert [m["model_seed"] for m in members] == [0, 1]
    aucs = [m["val_frame_auc"] for m in members]
    assert all(0.0 <= a <= 1.0 for a in aucs)
    best = report["selected"]["member"]
    assert aucs[best] == max(aucs) and report["selected"]["model_seed"] == best
    chosen = out / "members" / f"seed{best}"
    assert report["adapter_hash"] == adapter_hash(out / "adapter") == adapter_hash(chosen / "adapter")
    assert report["stages"]["lora"]["after"]["val"]["frame_auc"] == aucs[best]
    for f in (chosen / "pretrained").iterdir():
        assert (out / "pretrained" / f.name).read_bytes() == f.read_bytes()
    text = res.report_md.read_text()
    assert "frame AUC" in text and f"Members (kept: model seed {best}," in text and text.count("| yes |") == 1
    assert len(report["warnings"]) == 1 and "below min_val_frame_auc 1.01" in report["warnings"][0]
    assert "**Warning:** the kept scorer's validation frame AUC" in text
    assert (
        TopRewardScorer(str(res.pretrained), adapter=str(res.adapter), num_anchors=4).adapter_hash
        == (report["adapter_hash"])
    )


def test_finetune_scorer_checkpoints_only_the_adapter_and_resumes(tiny_vlm_dir, tiny_dataset, tmp_path):
    """scripts/finetune_scorer.py's run(): Lightning checkpoints hold the LoRA matrices only (not the frozen base
    model); ckpt_path=last continues from the saved step with the saved adapter and optimizer state."""
    from rabc.app import finetune_scorer

    out = tmp_path / "lora"
    args = [f"model={tiny_vlm_dir}", f"dataset.root={tiny_dataset}", f"out={out}", "stage.steps=2",
            "stage.groups_per_step=2", "stage.anchors_per_group=3", "scorer.num_anchors=3", "scorer.max_frames=6",
            "dataset.val_fraction=0.34", "trainer.enable_progress_bar=false", "logger=none"]  # fmt: skip
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        first = finetune_scorer.run(compose("finetune_scorer", overrides=args))
        ckpt = torch.load(out / "train" / "checkpoints" / "last.ckpt", weights_only=True)
        assert ckpt["global_step"] == 2 and ckpt["state_dict"]
        assert all("lora_" in k for k in ckpt["state_dict"])
        resumed = finetune_scorer.run(
            compose("finetune_scorer", overrides=[*args, "stage.steps=4", "ckpt_path=last"])
        )
    assert first.report["stages"]["lora"]["train"]["steps"] == 2
    assert resumed.report["stages"]["lora"]["train"]["steps"] == 2  # steps 3 and 4 only
    assert torch.load(out / "train" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4
    assert resumed.adapter_hash == adapter_hash(out) != first.adapter_hash
    assert (out / "config.yaml").is_file() and "| lora | after |" in resumed.report_md.read_text()


def test_group_draws_are_reproducible_and_keep_first_and_last_anchor():
    draws = GroupDraws([5, 5, 3], steps=4, groups_per_step=2, anchors_per_group=3, seed=7)
    a, b = list(draws), list(draws)
    assert len(a) == len(draws) == 4
    for step_a, step_b in zip(a, b, strict=True):
        assert [g for g, _ in step_a] == [g for g, _ in step_b] and len({g for g, _ in step_a}) == 2
        for (g, idx), (_, idx_b) in zip(step_a, step_b, strict=True):
            np.testing.assert_array_equal(idx, idx_b)
            n = [5, 5, 3][g]
            assert idx[0] == 0 and idx[-1] == n - 1 and len(idx) == min(3, n) and np.all(np.diff(idx) > 0)
    # a resumed run (start = the step it reached) continues the same sequence
    rest = list(GroupDraws([5, 5, 3], steps=4, groups_per_step=2, anchors_per_group=3, seed=7, start=2))
    assert len(rest) == 2 and [[g for g, _ in d] for d in rest] == [[g for g, _ in d] for d in a[2:]]
    with pytest.raises(ValueError, match="no training prefixes"):
        GroupDraws([], steps=1)


def test_evaluate_scorer_metrics(ft_scorer, tiny_dataset):
    eps = split_episodes(tiny_dataset, 0.0, 0)["train"][:3]
    m = evaluate_scorer(ft_scorer, tiny_dataset, eps, static=False)
    assert len(m["voc_per_episode"]) == 3 and np.isnan(m["static_voc"])
    assert np.isfinite(m["voc"]) and -1 <= m["voc"] <= 1


def test_cli_configs_compose_into_stage_configs():
    from omegaconf import OmegaConf

    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose("finetune_scorer", overrides=["model=m", "out=o", "dataset.root=d", "objective=bce"])
        indomain = compose("indomain_scorer", overrides=["out=o"])
    stage = StageConfig(**OmegaConf.to_container(cfg.stage, resolve=True))
    assert stage.objective == "bce" and stage.mode == "lora"
    params = set(TopRewardScorer.__init__.__code__.co_varnames)
    assert set(cfg.scorer) <= params
    assert cfg.trainer._target_ == "pytorch_lightning.Trainer"
    cfg = indomain
    for key, mode in (("full", "full"), ("lora", "lora")):
        assert StageConfig(**OmegaConf.to_container(cfg[key], resolve=True)).mode == mode
    with pytest.raises(ValueError, match="mode"):
        StageConfig(mode="qlora")


def test_labeller_records_the_adapter_hash_in_provenance(adapted, tiny_vlm_dir, tiny_dataset, tmp_path):
    from rabc.io import file_sha256
    from rabc.reward.labeller import label_dataset

    _, _, _, out, digest = adapted
    scorer = TopRewardScorer(str(tiny_vlm_dir), num_anchors=3, max_frames=8, adapter=str(out))
    assert scorer.adapter_hash == digest and scorer.merge_adapter is True
    table = label_dataset(
        tiny_dataset,
        scorer,
        tmp_path / "p.parquet",
        scorer_name="indomain",
        episodes=[0],
        show_progress=False,
    )
    p = table.provenance
    assert p["adapter_sha256"] == digest and p["adapter_path"] == str(out) and p["adapter_merged"] is True
    assert p["adapter_sha256"] == file_sha256(out / ADAPTER_WEIGHTS)  # the peft weights file's digest
    base = label_dataset(
        tiny_dataset, TopRewardScorer(str(tiny_vlm_dir), num_anchors=3, max_frames=8), tmp_path / "b.parquet",
        scorer_name="base", episodes=[0], show_progress=False,
    )  # fmt: skip
    assert base.provenance["adapter_sha256"] is None and base.provenance["adapter_merged"] is None


def test_cosine_schedule_decays_the_learning_rate_to_zero_over_the_steps():
    from torch.optim.lr_scheduler import CosineAnnealingLR

    from rabc.lit.scorer_module import LossModule, fit, make_trainer

    model = torch.nn.Linear(3, 1)
    batch = (torch.randn(8, 3), torch.randn(8, 1))
    lrs: list[float] = []

    def loss(m, b):
        lrs.append(module.trainer.optimizers[0].param_groups[0]["lr"])
        return torch.nn.functional.mse_loss(m(b[0]), b[1])

    module = LossModule(
        model, loss, lambda m: torch.optim.AdamW(m.parameters(), lr=0.1),
        lambda start: [batch] * (6 - start), scheduler=lambda opt: CosineAnnealingLR(opt, T_max=6),
    )  # fmt: skip
    fit(module, make_trainer(None, max_steps=6, enable_progress_bar=False), None)
    assert lrs[0] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    assert module.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_lr_schedule_must_be_known():
    with pytest.raises(ValueError, match="lr_schedule"):
        StageConfig(lr_schedule="linear")
    with pytest.raises(ValueError, match="lr_schedule"):
        train_scorer(torch.nn.Linear(2, 1), [], 0, lr_schedule="step")
