"""What a progress scorer is: the :class:`Scorer` protocol the labeller and the reward evaluation rely on.

A scorer declares what it needs and what identifies it instead of being probed for attributes:

- ``needs_frames``: whether ``score_episode`` looks at the pixels (the oracle and random references do not; the
  labeller then skips video decoding and passes an (N, 1, 1, 3) placeholder of the right length);
- ``provenance()``: the settings that identify its numbers (stamped into the progress parquet and hashed into the
  resume key, so parts of a run with other settings are never mixed in);
- ``prompts(tasks)``: the exact prompt text per task string, or ``None`` for scorers without a prompt;
- ``score_episode(frames, *, fps, instruction, episode_index)`` → :class:`~rabc.reward.topreward.EpisodeScore`;
  every scorer takes every argument and ignores what it does not use.

Implementations: :class:`~rabc.reward.topreward.TopRewardScorer`, :class:`~rabc.reward.baselines.OracleScorer`,
:class:`~rabc.reward.baselines.RandomScorer`. :class:`~rabc.reward.gvl.GvlScorer` is not one: it returns values at
shuffled sample frames for the VOC evaluation, not per-frame progress.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from rabc.io import file_sha256

if TYPE_CHECKING:
    from rabc.reward.topreward import EpisodeScore


class Scorer(Protocol):
    """A per-episode progress scorer (see the module docstring for each member's contract)."""

    needs_frames: bool

    def provenance(self) -> dict[str, Any]:
        """JSON-serialisable settings that identify the scorer's numbers."""
        ...

    def prompts(self, tasks: Iterable[str]) -> dict[str, str] | None:
        """The exact prompt per task string, or None when the scorer has no prompt."""
        ...

    def score_episode(
        self, frames: np.ndarray | torch.Tensor, *, fps: float, instruction: str, episode_index: int
    ) -> EpisodeScore:
        """Score one episode: frames (N, H, W, 3) uint8 (or a placeholder when ``needs_frames`` is False)."""
        ...


def weights_hash(model_dir: str | Path) -> dict[str, str] | None:
    """sha256 of every ``*.safetensors`` file of a local model directory ({file name: hex}); None otherwise."""
    d = Path(model_dir)
    if not d.is_dir():
        return None
    return {p.name: file_sha256(p) for p in sorted(d.glob("*.safetensors"))}


def runtime_provenance(adapter: Any) -> dict[str, Any]:
    """What else decides a model scorer's numbers: dtype, device, package versions, the rabc commit."""
    from importlib.metadata import PackageNotFoundError, version

    from rabc.io import provenance_stamp

    def _version(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    param = next(adapter.model.parameters())
    return {
        "dtype": str(param.dtype).removeprefix("torch."),
        "device": str(param.device),
        "torch_version": torch.__version__,
        "transformers_version": _version("transformers"),
        "peft_version": _version("peft"),
        **provenance_stamp(),
    }
