"""TOPReward progress scorer (PAPER.md §1): log p(" True" | video prefix, prompt) → per-episode progress.

One call per episode: frames (T, H, W, 3) uint8 + fps + instruction → :class:`EpisodeScore` with the K anchor
frame indices, raw log p(" True") and log p(" False") per anchor, min-max normalised anchors (Eq. 2) and the
dense per-frame progress (linear interpolation of the anchors over frames). The labeller calls this per episode.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rabc.reward.adapters import VideoClip, VLMAdapter
from rabc.reward.base import runtime_provenance, weights_hash
from rabc.reward.prefix_cache import SweepStats, cached_prefix_logprobs
from rabc.reward.prompts import (
    ANSWER,
    DEFAULT_PROMPT_PREFIX,
    DEFAULT_PROMPT_SUFFIX_TEMPLATE,
    NEGATIVE_ANSWER,
    build_prompt_text,
    validate_instruction,
)

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"
#: Progress corrections (TopRewardScorer(correction=...)).
CORRECTIONS = ("none", "static", "static_task")


def anchor_lengths(num_frames: int, num_anchors: int | None = 15) -> np.ndarray:
    """Prefix lengths (1-based, in frames): ``sorted(set(linspace(1, N, min(K, N)).astype(int)))``.

    ``num_anchors=None`` is the dense option: every prefix 1..N. Returns (K',) int64 with K' <= K.
    """
    if num_frames < 1:
        raise ValueError(f"an episode needs at least one frame, got {num_frames}")
    if num_anchors is None:
        return np.arange(1, num_frames + 1, dtype=np.int64)
    if num_anchors < 1:
        raise ValueError(f"num_anchors must be >= 1 (or None for dense), got {num_anchors}")
    return np.unique(np.linspace(1, num_frames, min(num_anchors, num_frames)).astype(np.int64))


def minmax_normalise(rewards: np.ndarray) -> np.ndarray:
    """TOPReward Eq. 2: s = (r − min r) / (max r − min r) over one episode's K anchors; constant → all ones."""
    r = np.asarray(rewards, dtype=np.float64)
    lo, hi = r.min(), r.max()
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise ValueError(f"non-finite raw rewards {r.tolist()}")
    if hi == lo:
        return np.ones_like(r)
    return (r - lo) / (hi - lo)


def dense_progress(anchor_frames: np.ndarray, anchor_values: np.ndarray, num_frames: int) -> np.ndarray:
    """Linear interpolation of anchor values (at 0-based frame indices) over frames 0..N-1; (N,) float32.

    Frames before the first anchor take its value (the first anchor is frame 0 unless frames were subsampled).
    """
    return np.interp(np.arange(num_frames), anchor_frames, anchor_values).astype(np.float32)


@dataclass
class EpisodeScore:
    """TOPReward output for one episode. K = number of anchors, N = episode frames, F = frames used."""

    anchor_lengths: np.ndarray  # (K,) prefix lengths in frames of the used frame list (1-based)
    anchor_frames: np.ndarray  # (K,) episode frame index (0-based) of each prefix's last frame
    logp_true: np.ndarray  # (K,) raw log p(" True"), fp32 log-softmax, float64
    logp_false: np.ndarray  # (K,) raw log p(" False") at the same position (diagnostic)
    progress_anchors: np.ndarray  # (K,) Eq. 2 min-max normalised logp_true
    progress: np.ndarray  # (N,) float32 dense per-frame progress
    frame_indices: np.ndarray  # (F,) episode frames fed to the model (all, unless subsampled)
    frame_size: tuple[int, int]  # (h, w) every frame was resized to, once
    fps: float
    stats: dict = field(default_factory=dict)  # visual_tokens, lm_tokens, seconds, sweep
    logp_static: np.ndarray | None = None  # (K,) raw log p(" True") of the still clip subtracted (static*)

    def anchor_signal(self, num_anchors: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(anchor frames, raw score) that VOC and the success score rank: the raw log p(" True") where the
        scorer has one (TOPReward, the random reference); a per-frame reference without log-probabilities (the
        oracle) is read at the TOPReward anchors of the episode, so every scorer is ranked on the same frames."""
        if np.isfinite(self.logp_true).any():
            return self.anchor_frames, self.logp_true
        anchors = anchor_lengths(len(self.progress), num_anchors) - 1
        return anchors, self.progress[anchors].astype(np.float64)


class TopRewardScorer:
    """Zero-shot TOPReward over a transformers video VLM (Qwen3-VL default, Qwen2.5-VL supported).

    Args:
        model: hub id or local directory (``from_pretrained``), or an already built :class:`VLMAdapter`.
        num_anchors: K prefixes per episode (paper: 15); ``None`` scores every prefix (dense).
        chat_template: the Table 5 chat-template prompt instead of the default (paper numbers use the default).
        prefix_cache: exact cached sweep (Qwen3-VL); ``False`` runs one full forward per prefix, like lerobot.
        dtype / device / trust_remote_code / revision / attn_implementation: passed to ``from_pretrained``.
        max_frames: subsample longer episodes uniformly to this many frames (timestamps stay true).
        max_context_tokens: prompt token budget; defaults to the model's ``max_position_embeddings``.
            Longer prompts are subsampled to fit, with a warning — never an error mid-dataset.
        frame_size: (h, w) to resize every frame to; default: the size the processor picks for the whole clip.
        remainder_batch_size: prefixes per LM call in the cached sweep (> 1 for GPUs; 1 is fastest on CPU).
        correction: ``"none"`` (the paper) or ``"static"``: length-bias correction. The still clip (the first frame
            repeated, same timestamps) is scored at the same anchors through the same sweep and its log p curve is
            subtracted from the episode's before Eq. 2, so what a growing clip earns by its length alone is removed.
            ``logp_true`` stays raw; the still clip's curve is ``logp_static``. A 1-frame episode equals its own
            still clip: its corrected curve is 0 and its progress 1 everywhere (Eq. 2's rule for a constant curve).
            ``"static_task"``: an amortised *approximation* of ``"static"``. The still curve is computed once per
            key (prompt text, i.e. the task; clip frame count after :meth:`prepare_clip`; anchor lengths; frame
            size; fps), from the first episode scored with that key (its first frame repeated, its timestamps),
            kept in ``self.static_references`` and subtracted from every later episode with the same key; an
            episode with a new key (another length) gets its own still clip once. It assumes the length bias
            depends on the prefix length / timestamps and the task, not on the episode's own first frame (exact
            for a bias c·log(prefix length)); the reference depends on which episode a process scores first per
            key (``stats["static_reference"]``). ``logp_static`` holds the subtracted curve, as for ``"static"``.
        adapter: directory of a peft LoRA adapter (``save_pretrained`` layout, see :mod:`rabc.reward.lora`) to
            apply to the loaded model; its sha256 is ``self.adapter_hash`` for provenance.
        merge_adapter: merge the adapter into the base weights (default) or keep the LoRA layers separate.
    """

    def __init__(
        self,
        model: str | VLMAdapter = DEFAULT_MODEL,
        *,
        num_anchors: int | None = 15,
        chat_template: bool = False,
        prefix_cache: bool = True,
        dtype: str = "float32",
        device: str = "cpu",
        trust_remote_code: bool = False,
        revision: str | None = None,
        attn_implementation: str | None = None,
        max_frames: int | None = None,
        max_context_tokens: int | None = None,
        frame_size: tuple[int, int] | None = None,
        remainder_batch_size: int = 1,
        prompt_prefix: str = DEFAULT_PROMPT_PREFIX,
        prompt_suffix_template: str = DEFAULT_PROMPT_SUFFIX_TEMPLATE,
        correction: str = "none",
        adapter: str | None = None,
        merge_adapter: bool = True,
    ) -> None:
        if correction not in CORRECTIONS:
            raise ValueError(f"unknown progress correction {correction!r}; choose one of {CORRECTIONS}")
        self.correction = correction
        #: correction="static_task": {key id: (still curve, episode it was computed from)}, see static_key()
        self.static_references: dict[str, tuple[np.ndarray, int]] = {}
        if isinstance(model, VLMAdapter):
            self.adapter, self.model_id = model, str(model.model.config.name_or_path or "")
        else:
            self.adapter = VLMAdapter.load(
                model, dtype=dtype, device=device, trust_remote_code=trust_remote_code, revision=revision,
                attn_implementation=attn_implementation,
            )  # fmt: skip
            self.model_id = str(model)
        self.adapter_path: str | None = None
        self.adapter_hash: str | None = None
        self.merge_adapter: bool | None = bool(merge_adapter) if adapter is not None else None
        if adapter is not None:
            from rabc.reward.lora import adapter_hash, load_adapter

            loaded = load_adapter(self.adapter.model, adapter, merge=merge_adapter)
            # unmerged: the base model with the LoRA layers injected, so every code path (naive, cached) uses them
            if merge_adapter:
                self.adapter.model = loaded
            else:
                from peft import PeftModel

                assert isinstance(loaded, PeftModel)  # what load_adapter(merge=False) returns
                self.adapter.model = loaded.get_base_model()
            self.adapter_path, self.adapter_hash = str(adapter), adapter_hash(adapter)
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.num_anchors = num_anchors
        self.chat_template = chat_template
        self.prefix_cache = prefix_cache and self.adapter.supports_prefix_cache
        if prefix_cache and not self.adapter.supports_prefix_cache:
            logger.info(
                "%s has no cached prefix sweep; using one forward per prefix", type(self.adapter).__name__
            )
        self.max_frames = max_frames
        self.max_context_tokens = max_context_tokens or self.adapter.max_context
        self.frame_size = frame_size
        if remainder_batch_size < 1:
            raise ValueError(f"remainder_batch_size must be >= 1, got {remainder_batch_size}")
        self.remainder_batch_size = remainder_batch_size
        self.prompt_prefix, self.prompt_suffix_template = prompt_prefix, prompt_suffix_template
        answer = ANSWER if chat_template else f" {ANSWER}"  # the default prompt ends in "... is: True"
        negative = NEGATIVE_ANSWER if chat_template else f" {NEGATIVE_ANSWER}"
        self.answer_ids = (self.adapter.single_token_id(answer), self.adapter.single_token_id(negative))

    # ---- the Scorer protocol (rabc.reward.base) -------------------------------------------------------------
    needs_frames = True

    def provenance(self) -> dict[str, Any]:
        """Model id, revision, weights hash of a local dir, K, prompt switches, LoRA adapter."""
        return {
            "scorer_class": type(self).__name__,
            "model_id": self.model_id,
            "model_revision": self.adapter.model.config._commit_hash,
            "weights_sha256": weights_hash(self.model_id) if self.model_id else None,
            "num_anchors": self.num_anchors,
            "chat_template": self.chat_template,
            "prefix_cache": self.prefix_cache,
            "max_frames": self.max_frames,
            "frame_size": self.frame_size,
            "prompt_prefix": self.prompt_prefix,
            "prompt_suffix_template": self.prompt_suffix_template,
            # LoRA adapter applied to the model (adapter=...); None for the base model
            "adapter_sha256": self.adapter_hash,
            "adapter_path": self.adapter_path,
            "adapter_merged": self.merge_adapter,
            "correction": self.correction,
            **runtime_provenance(self.adapter),
        }

    def prompts(self, tasks: Iterable[str]) -> dict[str, str]:
        return {t: self.prompt(t) for t in tasks}

    # ---- public --------------------------------------------------------------------------------------------
    def prompt(self, instruction: str) -> str:
        """The prompt with one video slot; the instruction is used verbatim."""
        return build_prompt_text(
            self.adapter.processor, validate_instruction(instruction), chat_template=self.chat_template,
            prefix=self.prompt_prefix, suffix_template=self.prompt_suffix_template,
        )  # fmt: skip

    def score_episode(
        self, frames: np.ndarray | torch.Tensor, *, fps: float, instruction: str, episode_index: int = 0
    ) -> EpisodeScore:
        """Score one episode. frames: (N, H, W, 3) uint8 (or (N, 3, H, W)); fps: the episode's frame rate.

        ``episode_index`` does not change the score of ``correction="none"/"static"`` (TOPReward sees only the
        frames and the instruction); with ``"static_task"`` it names the reference episode in ``stats``.
        """
        t0 = time.perf_counter()
        text = self.prompt(instruction)
        video = _as_frames(frames)  # (N, 3, H, W) uint8
        if not (fps > 0 and np.isfinite(fps)):
            raise ValueError(f"fps must be a positive number, got {fps}")
        n = video.shape[0]
        clip = self.prepare_clip(video, fps, text)
        lengths = anchor_lengths(len(clip.indices), self.num_anchors)
        stats = SweepStats()
        logp = self.prefix_logprobs(text, clip, lengths, stats)
        anchors = clip.indices[lengths - 1]
        curve, static, extra = logp[:, 0], None, {}
        if self.correction == "static":
            static = self.prefix_logprobs(text, still_clip(clip), lengths, stats)[:, 0]
        elif self.correction == "static_task":
            key = static_key(text, clip, lengths)
            cached = key in self.static_references
            if not cached:
                still = self.prefix_logprobs(text, still_clip(clip), lengths, stats)[:, 0]
                self.static_references[key] = (still, int(episode_index))
            static, reference = self.static_references[key]
            static = static.copy()
            extra = {"static_key": key, "static_reference": reference, "static_cached": cached}
        if static is not None:
            curve = curve - static
        s = minmax_normalise(curve)
        return EpisodeScore(
            anchor_lengths=lengths, anchor_frames=anchors, logp_true=logp[:, 0], logp_false=logp[:, 1],
            progress_anchors=s, progress=dense_progress(anchors, s, n), frame_indices=clip.indices,
            frame_size=(int(clip.frames.shape[-2]), int(clip.frames.shape[-1])), fps=float(fps),
            stats={"visual_tokens": stats.visual_tokens, "lm_tokens": stats.lm_tokens,
                   "seconds": time.perf_counter() - t0, "sweep": "cached" if self.prefix_cache else "naive",
                   **extra},
            logp_static=static,
        )  # fmt: skip

    def seed_static_reference(self, key: str, curve: np.ndarray, reference: int) -> None:
        """Reuse a still curve of ``correction="static_task"`` scored earlier (e.g. read back from a part file on
        resume) for ``key``; a key this scorer already holds keeps its curve."""
        curve = np.asarray(curve, dtype=np.float64)
        self.static_references.setdefault(str(key), (curve, int(reference)))

    def prefix_logprobs(
        self, text: str, clip: VideoClip, lengths: np.ndarray, stats: SweepStats | None = None, *, cached=None
    ) -> np.ndarray:
        """(K, 2) raw [log p(True), log p(False)] for each prefix length of ``clip``."""
        stats = stats if stats is not None else SweepStats()
        use_cache = self.prefix_cache if cached is None else cached
        if use_cache:
            return cached_prefix_logprobs(
                self.adapter,
                text,
                clip,
                lengths,
                self.answer_ids,
                stats,
                batch_size=self.remainder_batch_size,
            )
        out = np.empty((len(lengths), 2), dtype=np.float64)
        for k, L in enumerate(int(x) for x in lengths):
            inputs = self.adapter.encode(text, clip.prefix(L))
            if int(inputs["input_ids"][0, -1]) != self.answer_ids[0]:
                raise ValueError("the encoded prompt does not end in the answer token")
            out[k] = self.adapter.answer_logprobs(inputs, self.answer_ids)
            grid = inputs["video_grid_thw"][0]
            stats.visual_tokens += int(grid.prod()) // self.adapter.video_processor.merge_size**2
            stats.lm_tokens += int(inputs["input_ids"].shape[1])
            stats.vision_calls += 1
            stats.lm_calls += 1
        return out

    def prepare_clip(self, video: torch.Tensor, fps: float, text: str) -> VideoClip:
        """Choose the frames (subsampling to fit max_frames / the context) and resize them all once."""
        n = video.shape[0]
        indices = np.arange(n)
        if self.max_frames is not None and n > self.max_frames:
            indices = _uniform(n, self.max_frames)
        while True:
            size = self._size_for(len(indices), video.shape[-2:])
            length = len(self.adapter.token_ids(text, VideoClip(video[:0], indices, fps), size))
            if length <= self.max_context_tokens:
                break
            if len(indices) <= 1:
                raise ValueError(
                    f"the prompt needs {length} tokens with a single frame, over the {self.max_context_tokens}-token "
                    "context: shorten the prompt or lower the frame size"
                )
            fit = max(1, min(len(indices) - 1, int(len(indices) * self.max_context_tokens / length)))
            logger.warning(
                "episode of %d frames: prompt of %d tokens exceeds the %d-token context; subsampling to %d frames",
                n, length, self.max_context_tokens, fit,
            )  # fmt: skip
            indices = _uniform(n, fit)
        frames = self.adapter.resize(video[torch.as_tensor(indices)], size)
        return VideoClip(frames, indices, float(fps))

    def _size_for(self, num_frames: int, hw) -> tuple[int, int]:
        if self.frame_size is not None:
            f = self.adapter.spatial_factor
            if self.frame_size[0] % f or self.frame_size[1] % f:
                raise ValueError(f"frame_size must be multiples of {f}, got {self.frame_size}")
            return int(self.frame_size[0]), int(self.frame_size[1])
        # the size the processor would pick for the whole clip; ≥ 2 frames since a single frame is duplicated
        return self.adapter.target_size(max(num_frames, 2), int(hw[0]), int(hw[1]))


def still_clip(clip: VideoClip) -> VideoClip:
    """The clip's first frame repeated over all its frames, with the clip's own timestamps (frame indices, fps)."""
    frames = clip.frames[:1].expand_as(clip.frames).contiguous()
    return VideoClip(frames, clip.indices, clip.fps)


def static_key(text: str, clip: VideoClip, lengths: np.ndarray) -> str:
    """Key id of correction="static_task"'s shared still curve: sha256 (16 hex) of the prompt text, the clip's frame
    count, the anchor lengths, the frame size and the fps. The frame indices (timestamps) are not in it: episodes
    subsampled to the same frame count share the first one's."""
    h, w = (int(x) for x in clip.frames.shape[-2:])
    fields = [text, len(clip.indices), [int(x) for x in lengths], [h, w], float(clip.fps)]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


def _uniform(n: int, k: int) -> np.ndarray:
    """k frame indices spread uniformly over 0..n-1, always keeping the first and last frame."""
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def _as_frames(frames) -> torch.Tensor:
    """(N, H, W, 3) or (N, 3, H, W) uint8 → (N, 3, H, W) uint8 tensor; errors name the problem."""
    video = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if video.ndim != 4:
        raise ValueError(f"frames must be (N, H, W, 3) or (N, 3, H, W), got shape {tuple(video.shape)}")
    if video.shape[0] == 0:
        raise ValueError("episode has 0 frames; nothing to score")
    if video.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8, got {video.dtype}")
    if video.shape[-1] == 3 and video.shape[1] != 3:
        video = video.permute(0, 3, 1, 2)
    elif video.shape[1] != 3:
        raise ValueError(f"frames need 3 colour channels, got shape {tuple(video.shape)}")
    return video.contiguous()
