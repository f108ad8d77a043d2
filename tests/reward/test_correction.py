"""Length-bias correction: the still clip's curve, scored through the same sweep, is removed — per episode
(correction="static") or once per task and clip length (correction="static_task", an approximation)."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from rabc.data import episode_table
from rabc.io import RabcFileError, read_parquet
from rabc.reward.labeller import label_dataset, part_path, parts_dir
from rabc.reward.topreward import CORRECTIONS, TopRewardScorer, still_clip
from tests.reward.conftest import random_frames

TASK = "open the drawer"


class LengthBiased(TopRewardScorer):
    """A constructed length-biased scorer: log p + c·log(prefix length) for every clip it scores."""

    c = 0.7

    def prefix_logprobs(self, text, clip, lengths, stats=None, *, cached=None):
        out = super().prefix_logprobs(text, clip, lengths, stats, cached=cached)
        return out + self.c * np.log(np.asarray(lengths, dtype=np.float64))[:, None]


@pytest.fixture(scope="module")
def corrected(tiny_vlm_dir):
    return TopRewardScorer(str(tiny_vlm_dir), correction="static")


def test_length_bias_is_corrected_back_to_the_unbiased_curve(tiny_vlm_dir, corrected):
    frames = random_frames(12, seed=5)
    unbiased = corrected.score_episode(frames, fps=10.0, instruction=TASK)
    biased_scorer = LengthBiased(str(tiny_vlm_dir), correction="static")
    biased = biased_scorer.score_episode(frames, fps=10.0, instruction=TASK)
    raw_biased = LengthBiased(str(tiny_vlm_dir)).score_episode(frames, fps=10.0, instruction=TASK)
    # the bias is real: uncorrected, the biased scorer's progress differs from the unbiased corrected one
    assert np.abs(raw_biased.progress_anchors - unbiased.progress_anchors).max() > 1e-2
    np.testing.assert_allclose(biased.progress_anchors, unbiased.progress_anchors, rtol=0, atol=1e-5)
    np.testing.assert_allclose(biased.progress, unbiased.progress, rtol=0, atol=1e-5)
    # logp_true stays raw; the corrected curve is logp_true - logp_static
    np.testing.assert_allclose(biased.logp_true - unbiased.logp_true, 0.7 * np.log(unbiased.anchor_lengths))
    assert unbiased.logp_static is not None and raw_biased.logp_static is None


def test_still_clip_through_the_cache_equals_the_naive_sweep(corrected):
    video = torch.as_tensor(random_frames(9, seed=2)).permute(0, 3, 1, 2)
    text = corrected.prompt(TASK)
    clip = corrected.prepare_clip(video, 10.0, text)
    still = still_clip(clip)
    assert torch.equal(still.frames[-1], clip.frames[0]) and np.array_equal(still.indices, clip.indices)
    lengths = np.arange(1, 10)
    cached = corrected.prefix_logprobs(text, still, lengths, cached=True)
    naive = corrected.prefix_logprobs(text, still, lengths, cached=False)
    np.testing.assert_allclose(cached, naive, rtol=0, atol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_episodes_shorter_than_k_never_give_nan(corrected, n):
    s = corrected.score_episode(random_frames(n, seed=n), fps=10.0, instruction=TASK)
    assert len(s.anchor_lengths) == n and np.isfinite(s.progress).all() and s.progress.shape == (n,)
    if n == 1:  # the episode is its own still clip: corrected curve 0, progress 1 (Eq. 2, constant curve)
        assert s.logp_static is not None and s.logp_static[0] == pytest.approx(s.logp_true[0], abs=1e-6)
        assert np.all(s.progress == 1.0)


def test_unknown_correction_is_refused(tiny_vlm_dir):
    with pytest.raises(ValueError, match="unknown progress correction 'length'") as e:
        TopRewardScorer(str(tiny_vlm_dir), correction="length")
    assert CORRECTIONS == ("none", "static", "static_task")
    assert all(repr(c) in str(e.value) for c in CORRECTIONS)  # the message names the choices


def test_provenance_records_the_correction(corrected):
    assert corrected.provenance()["correction"] == "static"


# ---- correction="static_task": one still curve per (task, clip length), from the first episode with that key ----


def test_static_task_corrects_the_length_bias_of_an_episode_with_another_first_frame(corrected):
    first, second = random_frames(12, seed=5), random_frames(12, seed=8)
    assert not np.array_equal(first[0], second[0])
    unbiased = TopRewardScorer(corrected.adapter, correction="static_task")
    biased = LengthBiased(corrected.adapter, correction="static_task")
    raw_biased = LengthBiased(corrected.adapter).score_episode(second, fps=10.0, instruction=TASK)
    u = [
        unbiased.score_episode(f, fps=10.0, instruction=TASK, episode_index=i)
        for i, f in enumerate((first, second))
    ]
    b = [
        biased.score_episode(f, fps=10.0, instruction=TASK, episode_index=i)
        for i, f in enumerate((first, second))
    ]
    assert np.abs(raw_biased.progress_anchors - u[1].progress_anchors).max() > 1e-2  # the bias is real
    # the second episode reuses the first one's still curve, and the bias c·log L still cancels exactly
    assert b[1].stats["static_cached"] and b[1].stats["static_reference"] == 0
    still_of_first = corrected.score_episode(first, fps=10.0, instruction=TASK).logp_static
    np.testing.assert_allclose(u[1].logp_static, still_of_first, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b[1].progress_anchors, u[1].progress_anchors, rtol=0, atol=1e-5)
    np.testing.assert_allclose(b[1].progress, u[1].progress, rtol=0, atol=1e-5)
    np.testing.assert_allclose(b[1].logp_true - u[1].logp_true, 0.7 * np.log(u[1].anchor_lengths))


def test_static_task_scores_one_still_clip_per_task_and_clip_length(corrected):
    plain = TopRewardScorer(corrected.adapter)
    shared = TopRewardScorer(corrected.adapter, correction="static_task")
    episodes = [random_frames(10, seed=s) for s in (1, 2, 3)] + [random_frames(7, seed=4)]
    for i, frames in enumerate(episodes):
        base = plain.score_episode(frames, fps=10.0, instruction=TASK).stats
        s = shared.score_episode(frames, fps=10.0, instruction=TASK, episode_index=i).stats
        new_key = i in (0, 3)  # the first 10-frame episode and the 7-frame one each add one still sweep
        assert s["static_cached"] is not new_key and s["static_reference"] == (i if new_key else 0)
        assert s["lm_tokens"] == (2 if new_key else 1) * base["lm_tokens"]
        assert s["visual_tokens"] == (2 if new_key else 1) * base["visual_tokens"]
    assert len(shared.static_references) == 2
    # another task is another key
    shared.score_episode(episodes[0], fps=10.0, instruction="close the drawer", episode_index=9)
    assert len(shared.static_references) == 3


def test_static_task_provenance_and_resume_reuse_the_parts_still_curves(tiny_dataset, corrected, tmp_path):
    def scorer():  # a new process: no still curve held yet
        return TopRewardScorer(corrected.adapter, correction="static_task", num_anchors=4, max_frames=4)

    assert scorer().provenance()["correction"] == "static_task"
    out = tmp_path / "full" / "progress.parquet"
    label_dataset(tiny_dataset, scorer(), out, scorer_name="topreward_tiny", show_progress=False)
    eps = episode_table(tiny_dataset)
    metas = {int(e): read_parquet(part_path(out, int(e)))[1] for e in eps["episode_index"]}
    # every episode has >= 4 frames: one still curve per task, from its first episode
    refs = {m["task"]: m["stats"]["static_reference"] for m in metas.values()}
    assert refs == {t: int(eps.loc[eps["task"] == t, "episode_index"].min()) for t in refs}
    later = max(metas, key=lambda e: (metas[e]["stats"]["static_cached"], e))
    assert metas[later]["stats"]["static_cached"]
    # resume in a new process after losing a later episode: it gets the still curve it had, not its own
    resumed = tmp_path / "resumed" / "progress.parquet"
    shutil.copytree(parts_dir(out), parts_dir(resumed))
    part_path(resumed, later).unlink()
    label_dataset(
        tiny_dataset, scorer(), resumed, scorer_name="topreward_tiny", resume=True, show_progress=False
    )
    assert (
        read_parquet(part_path(resumed, later))[1]["stats"]["static_reference"] == refs[metas[later]["task"]]
    )
    a, b = pq.read_table(out), pq.read_table(resumed)
    for k in a.column_names:
        np.testing.assert_array_equal(a.column(k).to_numpy(), b.column(k).to_numpy(), err_msg=k)
    # a resume with the per-episode correction is refused, naming the field
    with pytest.raises(RabcFileError, match="correction: 'static_task' -> 'static'"):
        label_dataset(
            tiny_dataset, TopRewardScorer(corrected.adapter, correction="static", num_anchors=4, max_frames=4),
            resumed, scorer_name="topreward_tiny", resume=True, show_progress=False,
        )  # fmt: skip


def test_scorer_quality_takes_either_still_curve_correction(tiny_vlm_dir, tiny_dataset, tmp_path):
    from hydra import compose, initialize_config_dir

    from rabc.app import scorer_quality
    from rabc.app.cli import CONFIGS

    args = [f"model={tiny_vlm_dir}", f"root={tiny_dataset}", f"calibration_root={tiny_dataset}",
            f"out={tmp_path}", "scorer.num_anchors=4", "scorer.max_frames=6", "calibration_val_fraction=0.34",
            "n_boot=20"]  # fmt: skip
    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        res = scorer_quality.run(
            compose("scorer_quality", overrides=[*args, "+scorer.correction=static_task"])
        )
        assert "correction `static_task`" in res.markdown.read_text()
        train = res.table["training tasks (held-out episodes)"]
        assert np.isfinite(train["raw"]["static_voc"][0]) and np.isfinite(train["corrected"]["voc"][0])
        with pytest.raises(ValueError, match="scorer.correction must be 'static' or 'static_task'"):
            scorer_quality.run(compose("scorer_quality", overrides=[*args, "+scorer.correction=none"]))
