"""Training data and objectives for fitting a TOPReward scorer so that log p(" True") tracks progress and success on
labelled in-domain episodes. The training loop itself is Lightning's (rabc.lit.scorer_module, driven by
rabc.app.finetune_scorer); evaluation and reports are in rabc.reward.finetune_run.

Training sees exactly what scoring sees: the scorer's own prompt (:meth:`TopRewardScorer.prompt`), its frame
selection and resizing (:meth:`TopRewardScorer.prepare_clip`), its K anchor prefixes, and one full forward per
prefix (the naive sweep, exact). The trained quantity is r = log p(" True" | prefix, prompt) (TOPReward Eq. 1).

Objectives (``objective="bce"``, ``"ranking"``, ``"regression"`` or a sum such as ``"regression+ranking"``):

- ``bce``: binary cross-entropy of p = exp(r): positives are the final prefixes of successful episodes, negatives
  the final prefixes of failed episodes, early prefixes (time fraction ≤ ``early_fraction``) and static clips.
- ``ranking``: within a successful episode a later prefix must score above an earlier one, logistic loss
  softplus(−(r_j − r_i)) over all pairs i < j; static clips get a flatness penalty |r_j − r_i|.
- ``regression``: p = exp(r) regressed to the oracle progress in log space, (r − log(f + (1 − f)·y))², floor
  f = ``regression_floor`` (so progress 0 maps to a finite target); static clips have target 0.
- ``contrast``: equal-length contrast between the variants of one episode (real, static, reversed clip). At the
  same anchor the prompts have the same length and the same timestamps, so the only way to order them is to look
  at the frames: hinge relu(m·(y_a − y_b) − (r_a − r_b)) for every pair of variants with oracle progress
  y_a − y_b ≥ ``contrast_min_gap`` at that anchor, m = ``contrast_margin`` (log-prob units per unit progress).
  Needs ``static`` and/or ``reverse`` groups; it is computed when a real group is drawn (its siblings at the
  same anchors ride along).
- ``progress``: the same hinge between the anchors of one clip, for every clip with oracle progress — failed
  demos included: relu(m·(y_a − y_b) − (r_a − r_b)) for anchor pairs with y_a − y_b ≥ ``contrast_min_gap``.
  ``ranking`` only orders successful (and reversed) clips, so a demo that pushes the object away or heads for a
  wrong target never tells the model that its later prefixes are worse; this term does (the prefix at the peak of
  a push-away must score above the longer prefix after it). It is the "train on the corrupted demos with their
  oracle progress" of PAPER.md's limitation, with the scale-free pairwise form that avoids the collapse
  ``regression`` causes (rabc/reward/README.md).

Static clips (the first frame repeated, same timestamps) are the length-bias negatives of PAPER.md §1. They alone
do not stop a small model from counting frames/timestamps (a drift of 1e-4 per prefix is already VOC 1 on a static
clip). Reversed clips (``reverse=True``: the episode played backwards under the same timestamps, progress falling
with prefix length) break the length shortcut: a longer prefix is then as often worse as better, so the score has
to come from the frames. ``ranking`` orders reversed prefixes earlier-above-later; ``regression`` fits their
(falling) oracle progress; ``bce`` treats their final prefix as a negative.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rabc.reward.topreward import TopRewardScorer, anchor_lengths

logger = logging.getLogger(__name__)

OBJECTIVES = ("bce", "ranking", "regression", "contrast", "progress")


@dataclass
class PrefixGroup:
    """The K anchor prefixes of one (real or static) episode clip, pre-encoded for the model.

    inputs: K processor outputs (one per prefix, batch 1); progress: (K,) oracle progress at each prefix's last
    frame (0 for static clips); time: (K,) prefix length / clip length.
    """

    episode_index: int
    task: str
    success: bool
    static: bool
    inputs: list
    progress: np.ndarray
    time: np.ndarray
    reversed: bool = False


def parse_objective(objective: str) -> dict[str, float]:
    """``"regression+ranking"`` or ``"bce"`` → {name: weight 1}; ``"regression:1+ranking:0.5"`` sets weights."""
    out: dict[str, float] = {}
    for part in str(objective).split("+"):
        name, _, w = part.strip().partition(":")
        if name not in OBJECTIVES:
            raise ValueError(f"unknown objective {name!r} in {objective!r}; choose from {OBJECTIVES}")
        out[name] = float(w) if w else 1.0
    return out


def build_groups(
    scorer: TopRewardScorer,
    root: str | Path,
    episodes: Sequence[int],
    *,
    static: bool = True,
    reverse: bool = False,
    show_progress: bool = False,
) -> list[PrefixGroup]:
    """Decode, subsample (``scorer.max_frames``) and encode the anchor prefixes of each episode, plus a static copy
    (``static``: first frame repeated) and a reversed copy (``reverse``: frames backwards, same timestamps).

    Oracle progress per frame comes from :func:`rabc.data.oracle.read_oracle_progress`.
    """
    from tqdm.auto import tqdm

    from rabc.data import episode_table, read_episode_frames
    from rabc.data.oracle import ORACLE_PROGRESS_PATH, read_oracle_progress

    root = Path(root)
    table = episode_table(root).set_index("episode_index")
    missing = sorted(set(int(e) for e in episodes) - set(table.index))
    if missing:
        raise ValueError(f"{root}: episodes {missing[:5]} not in the dataset")
    if table["success"].isna().any():
        raise ValueError(f"{root}: episodes lack success labels (not a generated dataset with a sidecar)")
    oracle = read_oracle_progress(root)
    groups: list[PrefixGroup] = []
    for ep in tqdm(list(episodes), desc="encode prefixes", disable=not show_progress):
        row = table.loc[int(ep)]
        frames, stamps = read_episode_frames(root, int(ep))  # (T, H, W, 3) uint8, (T,) s
        fps = stamps_fps(stamps)
        prog = oracle.progress[oracle.episode_index == int(ep)]  # (T,) in frame order
        if len(prog) != len(frames):
            raise ValueError(
                f"{root / ORACLE_PROGRESS_PATH}: episode {ep} has {len(prog)} rows, video {len(frames)}"
            )
        text = scorer.prompt(str(row["task"]))
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # (T, 3, H, W)
        clip = scorer.prepare_clip(video, fps, text)
        lengths = anchor_lengths(len(clip.indices), scorer.num_anchors)
        time = lengths / len(clip.indices)
        enc = [scorer.adapter.encode(text, clip.prefix(int(L))) for L in lengths]
        p = np.nan_to_num(prog[clip.indices[lengths - 1]].astype(np.float64), nan=0.0)
        groups.append(PrefixGroup(int(ep), str(row["task"]), bool(row["success"]), False, enc, p, time))
        if reverse:
            back = type(clip)(clip.frames.flip(0).contiguous(), clip.indices, clip.fps)
            enc = [scorer.adapter.encode(text, back.prefix(int(L))) for L in lengths]
            rp = np.nan_to_num(prog[clip.indices[::-1][lengths - 1]].astype(np.float64), nan=0.0)
            groups.append(PrefixGroup(int(ep), str(row["task"]), False, False, enc, rp, time, reversed=True))
        if static:
            frozen = type(clip)(clip.frames[:1].expand_as(clip.frames).contiguous(), clip.indices, clip.fps)
            enc = [scorer.adapter.encode(text, frozen.prefix(int(L))) for L in lengths]
            groups.append(
                PrefixGroup(int(ep), str(row["task"]), False, True, enc, np.zeros(len(lengths)), time)
            )
    return groups


def prefix_logp(model: torch.nn.Module, inputs, answer_id: int) -> torch.Tensor:
    """Differentiable r = log_softmax(logits[:, -2].float())[" True"] for one encoded prefix (TOPReward Eq. 1)."""
    out = model(**inputs, logits_to_keep=2)
    return torch.log_softmax(out.logits[0, -2].float(), dim=-1)[answer_id]


def objective_loss(
    name: str,
    logp: torch.Tensor,
    group: PrefixGroup,
    *,
    early_fraction: float = 0.34,
    regression_floor: float = 0.05,
    margin: float = 1.0,
    min_gap: float = 0.2,
) -> torch.Tensor | None:
    """Loss of one group's K prefix log-probs ``logp`` (K,) under objective ``name``; None if it has no terms.
    ``margin`` and ``min_gap`` are the ``progress`` hinge's (as :func:`contrast_loss`'s)."""
    if name == "bce":
        y = torch.full_like(logp, float("nan"))
        if not group.reversed:  # a reversed clip's early prefixes end on late (high-progress) frames
            y[torch.as_tensor(group.time <= early_fraction)] = 0.0
        if group.static:
            y[:] = 0.0
        else:
            y[-1] = float(group.success and not group.reversed)
        keep = ~torch.isnan(y)
        if not keep.any():
            return None
        lp = logp[keep].clamp(max=-1e-6)
        log_not = torch.log(-torch.expm1(lp))  # log(1 − p), stable for p → 0
        return -(y[keep] * lp + (1 - y[keep]) * log_not).mean()
    if name == "ranking":
        diff = logp[None, :] - logp[:, None]  # (K, K): diff[i, j] = r_j − r_i
        upper = torch.triu(torch.ones_like(diff, dtype=torch.bool), diagonal=1)  # pairs i < j
        if group.static:  # flat: L1, so a small monotone drift (already VOC 1) still has a full-size gradient
            return diff[upper].abs().mean() if upper.any() else None
        if group.reversed and upper.any():  # played backwards: an earlier prefix is above a later one
            return F.softplus(diff[upper]).mean()
        if not group.success or not upper.any():
            return None
        return F.softplus(-diff[upper]).mean()
    if name == "progress":
        return pair_hinge(logp[None, :], group.progress[None, :], margin=margin, min_gap=min_gap)
    if name == "regression":
        y = torch.as_tensor(group.progress, dtype=logp.dtype).clamp(0.0, 1.0)
        target = torch.log(regression_floor + (1 - regression_floor) * y)
        return (logp - target).pow(2).mean()
    raise ValueError(f"unknown objective {name!r}; choose from {OBJECTIVES}")


def contrast_loss(
    logps: Sequence[torch.Tensor],
    progress: Sequence[np.ndarray],
    *,
    margin: float = 1.0,
    min_gap: float = 0.2,
) -> torch.Tensor | None:
    """Equal-length contrast between clip variants (real / static / reversed) of one episode.

    logps: V tensors (K,) of r = log p(" True") at the same K anchors; progress: V arrays (K,) of oracle progress.
    Loss: mean over pairs (a, b, k) with y_a[k] − y_b[k] ≥ ``min_gap`` of relu(margin·(y_a − y_b) − (r_a − r_b)).
    None when no pair qualifies.
    """
    return pair_hinge(torch.stack(list(logps)).T, np.stack(progress).T, margin=margin, min_gap=min_gap)


def pair_hinge(r: torch.Tensor, y: np.ndarray, *, margin: float, min_gap: float) -> torch.Tensor | None:
    """Mean of relu(margin·(y_a − y_b) − (r_a − r_b)) over the pairs (a, b) of each row of ``r`` (R, P) whose oracle
    progress ``y`` (R, P) differs by y_a − y_b ≥ ``min_gap``; None when no pair qualifies. Rows are anchors and
    columns clip variants for ``contrast``; one row of anchors for ``progress``."""
    yt = torch.as_tensor(np.asarray(y), dtype=r.dtype)
    dy = yt[:, :, None] - yt[:, None, :]  # (R, P, P): y_a − y_b
    dr = r[:, :, None] - r[:, None, :]  # (R, P, P): r_a − r_b
    keep = dy >= min_gap
    if not keep.any():
        return None
    return torch.relu(margin * dy[keep] - dr[keep]).mean()


class GroupDraws(torch.utils.data.IterableDataset):
    """The training draws of a scorer fine-tune, one item per step: ``groups_per_step`` distinct group indices
    (out of ``n_groups``), each with up to ``anchors_per_group`` of its ``n_anchors[i]`` anchors (always the first
    and last, sorted): a list of ``(group index, anchor indices)``. ``steps`` items, drawn from one
    ``numpy.random.default_rng(seed)``, so a run's draws are reproducible. Plain ints and arrays: a DataLoader
    (``batch_size=None``) hands them to the loss unchanged."""

    def __init__(
        self,
        n_anchors: Sequence[int],
        *,
        steps: int,
        groups_per_step: int = 4,
        anchors_per_group: int | None = 6,
        seed: int = 0,
        start: int = 0,
    ):
        if not n_anchors:
            raise ValueError("no training prefixes")
        self.n_anchors = [int(n) for n in n_anchors]
        self.steps, self.groups_per_step = int(steps), int(groups_per_step)
        self.anchors_per_group, self.seed, self.start = anchors_per_group, int(seed), int(start)

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, np.ndarray]]]:
        rng = np.random.default_rng(self.seed)
        n = len(self.n_anchors)
        for step in range(self.steps):
            picked = rng.choice(n, size=min(self.groups_per_step, n), replace=False)
            draw = [
                (int(g), _anchor_subset(self.n_anchors[int(g)], self.anchors_per_group, rng)) for g in picked
            ]
            if step >= self.start:
                yield draw


class GroupLoss:
    """The fine-tuning loss of one step's draws (:class:`GroupDraws`): one forward per drawn prefix, each group's
    objective terms (:func:`objective_loss`, weights from :func:`parse_objective`), summed and divided by
    ``groups_per_step``; None when no term applies (the step is skipped).

    ``contrast`` in ``objective``: when a real group is drawn, its static/reversed siblings (same episode) are
    forwarded at the same anchors and :func:`contrast_loss` orders the variants by oracle progress.
    """

    def __init__(
        self,
        groups: Sequence[PrefixGroup],
        answer_id: int,
        *,
        objective: str = "regression+ranking",
        groups_per_step: int = 4,
        early_fraction: float = 0.34,
        regression_floor: float = 0.05,
        contrast_margin: float = 1.0,
        contrast_min_gap: float = 0.2,
    ):
        if not groups:
            raise ValueError("no training prefixes")
        self.groups, self.answer_id = list(groups), int(answer_id)
        self.weights = parse_objective(objective)
        self.groups_per_step = int(groups_per_step)
        self.early_fraction, self.regression_floor = early_fraction, regression_floor
        self.contrast_margin, self.contrast_min_gap = contrast_margin, contrast_min_gap
        self.siblings: dict[int, list[PrefixGroup]] = {}
        for g in self.groups:
            if g.static or g.reversed:
                self.siblings.setdefault(g.episode_index, []).append(g)

    def draws(
        self, *, steps: int, anchors_per_group: int | None = 6, seed: int = 0, start: int = 0
    ) -> GroupDraws:
        """The :class:`GroupDraws` over these groups."""
        return GroupDraws(
            [len(g.inputs) for g in self.groups], steps=steps, groups_per_step=self.groups_per_step,
            anchors_per_group=anchors_per_group, seed=seed, start=start,
        )  # fmt: skip

    def __call__(self, model: torch.nn.Module, draw: Sequence[tuple[int, np.ndarray]]) -> torch.Tensor | None:
        terms: list[torch.Tensor] = []
        for gi, idx in draw:
            full = self.groups[int(gi)]
            g = _take(full, np.asarray(idx))
            lp = torch.stack([prefix_logp(model, x, self.answer_id) for x in g.inputs])  # (K,)
            for name, w in self.weights.items():
                loss: torch.Tensor | None
                if name == "contrast":
                    sib = self.siblings.get(full.episode_index)
                    if full.static or full.reversed or not sib:
                        continue
                    taken = [_take(s, np.asarray(idx)) for s in sib]
                    lps = [lp] + [
                        torch.stack([prefix_logp(model, x, self.answer_id) for x in s.inputs]) for s in taken
                    ]
                    loss = contrast_loss(
                        lps, [g.progress] + [s.progress for s in taken], margin=self.contrast_margin,
                        min_gap=self.contrast_min_gap,
                    )  # fmt: skip
                else:
                    loss = objective_loss(
                        name,
                        lp,
                        g,
                        early_fraction=self.early_fraction,
                        regression_floor=self.regression_floor,
                        margin=self.contrast_margin,
                        min_gap=self.contrast_min_gap,
                    )
                if loss is not None:
                    terms.append(w * loss)
        if not terms:
            return None
        return torch.stack(terms).sum() / self.groups_per_step


def param_groups(model: torch.nn.Module, lr: float, vision_lr_mult: float = 1.0) -> list[dict[str, Any]]:
    """Optimizer parameter groups of ``model``'s trainable parameters (all of them, or only the LoRA matrices of a
    PeftModel): the vision tower's (names containing ``visual``) at ``lr * vision_lr_mult``, the rest at ``lr``.
    Keep the multiplier at 1: Adam normalises each parameter's step, and x30 on the tiny Qwen3-VL blew the vision
    output up to a constant (rabc/reward/README.md)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameters")
    if not vision_lr_mult > 0:
        raise ValueError(f"vision_lr_mult must be > 0, got {vision_lr_mult}")
    vis = [p for n, p in named if "visual" in n]
    rest = [p for n, p in named if "visual" not in n]
    groups: list[dict[str, Any]] = [{"params": rest, "lr": lr}] if rest else []
    if vis:
        groups.append({"params": vis, "lr": lr * vision_lr_mult})
    return groups


def _anchor_subset(n: int, k: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of up to ``k`` of ``n`` anchors, always the first and last, sorted."""
    if k is None or n <= k:
        return np.arange(n)
    mid = np.sort(rng.choice(np.arange(1, n - 1), size=max(k - 2, 0), replace=False))
    return np.concatenate([[0], mid, [n - 1]]).astype(int)


def _take(g: PrefixGroup, idx: np.ndarray) -> PrefixGroup:
    if len(idx) == len(g.inputs):
        return g
    return PrefixGroup(
        g.episode_index, g.task, g.success, g.static, [g.inputs[i] for i in idx], g.progress[idx], g.time[idx],
        reversed=g.reversed,
    )  # fmt: skip


def stamps_fps(stamps: np.ndarray) -> float:
    """Frame rate from decoded timestamps (T,) in seconds."""
    if len(stamps) < 2:
        return 1.0
    dt = float(np.median(np.diff(stamps)))
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"timestamps are not increasing (median step {dt})")
    return 1.0 / dt
