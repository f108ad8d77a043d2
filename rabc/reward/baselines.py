"""Reference scorers for every reward table: the simulator's oracle progress and a seeded random scorer.

Both implement :class:`rabc.reward.base.Scorer`: ``score_episode(frames, *, fps, instruction, episode_index)``
returns an :class:`~rabc.reward.topreward.EpisodeScore`. They declare ``needs_frames = False`` (the labeller then
passes an (N, 1, 1, 3) placeholder instead of decoding video), read the episode by ``episode_index`` and have no
prompt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rabc.data.oracle import read_oracle_progress
from rabc.io import RabcFileError
from rabc.reward.topreward import EpisodeScore, anchor_lengths, dense_progress, minmax_normalise

logger = logging.getLogger(__name__)


class OracleScorer:
    """The simulator's per-frame oracle progress of a generated dataset.

    Read by :func:`rabc.data.oracle.read_oracle_progress` (``progress/oracle.parquet``, or the per-frame
    ``progress_oracle`` column). Every frame is an anchor; raw log p columns are NaN.

    Args:
        root: LeRobot v3 dataset root.
    """

    needs_frames = False

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        t = read_oracle_progress(self.root)
        episode, frame, progress = t.episode_index, t.frame_index, t.progress
        self.source = str(t.provenance["source"])
        order = np.lexsort((frame, episode))  # (N,) by episode then frame
        self._episode, self._frame = episode[order], frame[order]
        self._progress = progress[order].astype(np.float32)
        self._eps, self._starts = np.unique(self._episode, return_index=True)

    def provenance(self) -> dict[str, Any]:
        return {
            "scorer_class": "OracleScorer",
            "model_id": None,
            "oracle_source": self.source,
            "num_anchors": None,
        }

    def prompts(self, tasks: Iterable[str]) -> None:
        return None

    def score_episode(self, frames, *, fps: float, instruction: str = "", episode_index: int) -> EpisodeScore:
        """frames: (N, ...) used for N only. Returns the oracle progress (N,) float32 of ``episode_index``."""
        n = len(frames)
        pos = np.searchsorted(self._eps, episode_index)
        if pos >= len(self._eps) or self._eps[pos] != episode_index:
            raise RabcFileError(f"{self.source}: no oracle progress for episode {episode_index}")
        start = self._starts[pos]
        stop = self._starts[pos + 1] if pos + 1 < len(self._starts) else len(self._episode)
        fr, prog = self._frame[start:stop], self._progress[start:stop]
        if len(fr) != n or not np.array_equal(fr, np.arange(n)):
            raise RabcFileError(
                f"{self.source}: episode {episode_index} has oracle progress for {len(fr)} frames, expected {n}"
            )
        nan = np.full(n, np.nan)
        return EpisodeScore(
            anchor_lengths=np.arange(1, n + 1, dtype=np.int64), anchor_frames=np.arange(n, dtype=np.int64),
            logp_true=nan, logp_false=nan.copy(), progress_anchors=prog.astype(np.float64), progress=prog.copy(),
            frame_indices=np.arange(n, dtype=np.int64), frame_size=(0, 0), fps=float(fps), stats={"sweep": "oracle"},
        )  # fmt: skip


class RandomScorer:
    """Chance-level reference: i.i.d. standard-normal raw scores at the K TOPReward anchors (no monotonicity),
    per-episode min-max (Eq. 2) and linear interpolation, seeded by ``(seed, episode_index)`` so any shard or
    resume order gives the same numbers."""

    needs_frames = False

    def __init__(self, seed: int = 0, num_anchors: int | None = 15) -> None:
        self.seed, self.num_anchors = int(seed), num_anchors

    def provenance(self) -> dict[str, Any]:
        return {
            "scorer_class": "RandomScorer",
            "model_id": None,
            "seed": self.seed,
            "num_anchors": self.num_anchors,
        }

    def prompts(self, tasks: Iterable[str]) -> None:
        return None

    def score_episode(self, frames, *, fps: float, instruction: str = "", episode_index: int) -> EpisodeScore:
        """frames: (N, ...) used for N only. Returns random progress (N,) float32 in [0, 1]."""
        n = len(frames)
        lengths = anchor_lengths(n, self.num_anchors)
        rng = np.random.default_rng([self.seed, int(episode_index)])
        raw = rng.standard_normal(len(lengths))
        s = minmax_normalise(raw)
        anchors = lengths - 1
        return EpisodeScore(
            anchor_lengths=lengths, anchor_frames=anchors, logp_true=raw, logp_false=np.full(len(raw), np.nan),
            progress_anchors=s, progress=dense_progress(anchors, s, n), frame_indices=np.arange(n, dtype=np.int64),
            frame_size=(0, 0), fps=float(fps), stats={"sweep": "random"},
        )  # fmt: skip
