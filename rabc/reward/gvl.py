"""GVL baseline (generative value learning; PAPER.md §3) on the same VLM adapters as TOPReward.

Per episode of T frames: ``n = min(15, T − 1)`` frames are sampled without replacement from 1..T−1 and sorted;
the first selected frame is shown as the initial scene at 0 %, then all n are shown as images in a shuffled order
(seeded ``42 + episode_index``), each announced as ``Frame i:``. The model generates (greedy) one
``Frame i: Task Completion Percentages: x%`` line per frame; values are parsed with ``(-?\\d+(\\.\\d+)?)\\s*%``,
put back in chronological order, and VOC is the Spearman ρ against that order (constant predictions → 0).
A parse or count error gives VOC 0 and the episode is excluded from the aggregate (``parse_ok=False``); callers
count and report those episodes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from rabc.metrics import voc
from rabc.reward.adapters import VLMAdapter
from rabc.reward.prompts import validate_instruction

logger = logging.getLogger(__name__)

VALUE_PATTERN = re.compile(r"(-?\d+(\.\d+)?)\s*%")

GVL_INTRO = (
    "You are an expert roboticist tasked to predict task completion percentages for frames of a robot for the "
    "task of {instruction}. The task completion percentages are between 0 and 100, where 100 corresponds to full "
    "task completion. Note that these frames are in random order, so please pay attention to the individual "
    "frames when reasoning about task completion percentage.\nInitial robot scene: "
)
GVL_INITIAL = "\nIn the initial robot scene, the task completion percentage is 0%.\n"
GVL_QUESTION = (
    "Now, for the task of {instruction}, output the task completion percentage for the following frames that are "
    "presented in random order. For each frame, format your response as follow: "
    "Frame {{i}}: Task Completion Percentages: {{x}}%\n"
)


class GvlParseError(ValueError):
    """The generated text does not hold exactly one percentage per shown frame."""


@dataclass
class GvlEpisodeResult:
    """GVL output for one episode; n = frames shown (≤ 15)."""

    frame_indices: np.ndarray  # (n,) sorted episode frame indices sampled from 1..T-1 (chronological)
    shown_order: np.ndarray  # (n,) position j shows frame_indices[shown_order[j]]
    values: np.ndarray  # (n,) parsed percentages in chronological order; NaN where parsing failed
    text: str  # the raw generation
    parse_ok: bool
    error: str  # why parsing failed ("" when it did not)
    voc: float  # Spearman vs chronological order; 0 on a parse failure or constant values


def sample_frames(num_frames: int, episode_index: int, num_samples: int = 15, seed: int = 42):
    """GVL frame choice: (sorted indices (n,), shown order (n,)) with n = min(num_samples, T − 1).

    Indices are drawn without replacement from 1..T−1 and sorted; ``shown_order`` is a permutation of 0..n−1,
    both from ``numpy.random.default_rng(seed + episode_index)``.
    """
    if num_frames < 2:
        raise ValueError(f"GVL needs an episode of at least 2 frames, got {num_frames}")
    rng = np.random.default_rng(seed + int(episode_index))
    n = min(num_samples, num_frames - 1)
    idx = np.sort(rng.choice(np.arange(1, num_frames), size=n, replace=False)).astype(np.int64)
    return idx, rng.permutation(n).astype(np.int64)


def parse_values(text: str, expected: int) -> np.ndarray:
    """All ``x%`` values of ``text`` in order of appearance: (expected,) float64; raises GvlParseError otherwise."""
    values = [float(m.group(1)) for m in VALUE_PATTERN.finditer(text)]
    if len(values) != expected:
        raise GvlParseError(f"expected {expected} percentages, found {len(values)}")
    return np.asarray(values, dtype=np.float64)


def chronological(shown_values: np.ndarray, shown_order: np.ndarray) -> np.ndarray:
    """Undo the shuffle: value of the frame shown at position j goes to chronological slot shown_order[j]."""
    out = np.empty_like(np.asarray(shown_values, dtype=np.float64))
    out[np.asarray(shown_order)] = shown_values
    return out


def evaluate_text(text: str, frame_indices: np.ndarray, shown_order: np.ndarray) -> GvlEpisodeResult:
    """Parse one generation, reorder it and compute its VOC (0 on failure; the caller excludes it)."""
    n = len(frame_indices)
    try:
        values = chronological(parse_values(text, n), shown_order)
    except GvlParseError as err:
        return GvlEpisodeResult(frame_indices, shown_order, np.full(n, np.nan), text, False, str(err), 0.0)
    return GvlEpisodeResult(frame_indices, shown_order, values, text, True, "", voc(values, constant="zero"))


class GvlScorer:
    """GVL over a transformers VLM (any adapter family whose processor takes ``images``).

    Args:
        model: hub id / local directory, or a built :class:`VLMAdapter`; ``None`` only with ``generate_fn``.
        num_samples: frames shown per episode (paper: 15). seed: base seed (paper: 42, plus the episode index).
        tokens_per_frame: generation budget per answer line; ``max_new_tokens = (n + 1) · tokens_per_frame``.
        generate_fn: ``(images list of (3, h, w) uint8, instruction, n) -> str`` replacing the model (tests).
    """

    def __init__(
        self,
        model: str | VLMAdapter | None = None,
        *,
        num_samples: int = 15,
        seed: int = 42,
        tokens_per_frame: int = 16,
        dtype: str = "float32",
        device: str = "cpu",
        trust_remote_code: bool = False,
        revision: str | None = None,
        generate_fn: Callable[[list[torch.Tensor], str, int], str] | None = None,
    ) -> None:
        if model is None and generate_fn is None:
            raise ValueError("GvlScorer needs a model or a generate_fn")
        if isinstance(model, str):
            model = VLMAdapter.load(
                model, dtype=dtype, device=device, trust_remote_code=trust_remote_code, revision=revision
            )
        self.adapter = model
        self.model_id = str(model.model.config.name_or_path or "") if model is not None else "generate_fn"
        if num_samples < 2:
            raise ValueError(f"num_samples must be >= 2, got {num_samples}")
        self.num_samples, self.seed, self.tokens_per_frame = num_samples, seed, tokens_per_frame
        self.generate_fn = generate_fn or self._generate

    def prompt(self, instruction: str, n: int) -> list[dict]:
        """Chat messages: intro, initial scene image, question, then ``Frame i:`` + image for i = 1..n."""
        content: list[dict] = [{"type": "text", "text": GVL_INTRO.format(instruction=instruction)}]
        content += [
            {"type": "image"},
            {"type": "text", "text": GVL_INITIAL + GVL_QUESTION.format(instruction=instruction)},
        ]
        for i in range(1, n + 1):
            content += [
                {"type": "text", "text": f"Frame {i}: "},
                {"type": "image"},
                {"type": "text", "text": "\n"},
            ]
        return [{"role": "user", "content": content}]

    @torch.no_grad()
    def _generate(self, images: list[torch.Tensor], instruction: str, n: int) -> str:
        """Greedy generation for the initial scene + n shuffled frames; returns the decoded new text."""
        adapter = self.adapter
        if adapter is None:
            raise RuntimeError("GvlScorer was built with generate_fn and no model: it cannot generate itself")
        proc = adapter.processor
        text = proc.apply_chat_template(
            self.prompt(instruction, n), tokenize=False, add_generation_prompt=True
        )
        inputs = proc(text=[text], images=images, return_tensors="pt").to(adapter.device)
        out = adapter.model.generate(
            **inputs, do_sample=False, max_new_tokens=(n + 1) * self.tokens_per_frame,
            pad_token_id=adapter.tokenizer.pad_token_id or adapter.tokenizer.eos_token_id,
        )  # fmt: skip
        return adapter.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    def score_episode(
        self, frames: np.ndarray | torch.Tensor, *, fps: float = 0.0, instruction: str, episode_index: int = 0
    ) -> GvlEpisodeResult:
        """frames: (T, H, W, 3) or (T, 3, H, W) uint8. ``fps`` is unused (GVL shows still images)."""
        instruction = validate_instruction(instruction)
        video = (
            torch.as_tensor(np.ascontiguousarray(frames)) if not isinstance(frames, torch.Tensor) else frames
        )
        if video.ndim != 4 or video.dtype != torch.uint8:
            raise ValueError(f"frames must be (T, H, W, 3) uint8, got {tuple(video.shape)} {video.dtype}")
        if video.shape[-1] == 3 and video.shape[1] != 3:
            video = video.permute(0, 3, 1, 2)
        idx, order = sample_frames(video.shape[0], episode_index, self.num_samples, self.seed)
        images = [video[int(idx[0])].contiguous()] + [video[int(idx[j])].contiguous() for j in order]
        result = evaluate_text(self.generate_fn(images, instruction, len(idx)), idx, order)
        if not result.parse_ok:
            logger.info("GVL episode %d: parse failure (%s)", episode_index, result.error)
        return result
