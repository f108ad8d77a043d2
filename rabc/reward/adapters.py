"""Per-family adapters over transformers video VLMs: loading, frame sizing, prompt encoding, one forward.

An adapter hides what differs between model families (how the processor lays out a video in the token stream,
how it picks the frame size, which timestamps it needs) behind a handful of methods the scorer calls. Add a
family by subclassing :class:`VLMAdapter` and registering it in :data:`ADAPTERS` under its ``model_type``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

logger = logging.getLogger(__name__)

#: Model dtypes by config name (``dtype: bfloat16``); "auto" keeps the checkpoint's own.
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass(frozen=True)
class VideoClip:
    """Frames ready for the processor: already resized to a size the processor keeps as is.

    frames: (F, 3, h, w) uint8; indices: (F,) frame index of each frame in its episode; fps: episode frame rate.
    Timestamps are ``indices / fps`` seconds, so subsampled clips keep their true times.
    """

    frames: torch.Tensor
    indices: np.ndarray
    fps: float

    def prefix(self, length: int) -> VideoClip:
        return VideoClip(self.frames[:length], self.indices[:length], self.fps)

    def metadata(self) -> dict[str, Any]:
        return {
            "total_num_frames": int(self.indices[-1]) + 1,
            "fps": float(self.fps),
            "frames_indices": [int(i) for i in self.indices],
        }


class VLMAdapter:
    """Base adapter: model + processor of one family, with the family's video conventions."""

    model_types: ClassVar[tuple[str, ...]] = ()
    #: whether :mod:`rabc.reward.prefix_cache` implements the exact cached prefix sweep for this family
    supports_prefix_cache: ClassVar[bool] = False

    def __init__(self, model, processor) -> None:
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.video_processor = processor.video_processor

    # ---- loading -------------------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path_or_id: str,
        *,
        dtype: str = "float32",
        device: str = "cpu",
        trust_remote_code: bool = False,
        revision: str | None = None,
        attn_implementation: str | None = None,
    ) -> VLMAdapter:
        """Load model and processor with ``from_pretrained`` and wrap them in the adapter of their family."""
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        kw: dict[str, Any] = {"trust_remote_code": trust_remote_code, "revision": revision}
        config = AutoConfig.from_pretrained(path_or_id, **kw)
        adapter_cls = adapter_for(config.model_type)
        if dtype != "auto" and dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; choose 'auto' or one of {sorted(DTYPES)}")
        torch_dtype = dtype if dtype == "auto" else DTYPES[dtype]
        model_kw = dict(kw, dtype=torch_dtype)
        if attn_implementation is not None:
            model_kw["attn_implementation"] = attn_implementation
        # transformers re-wraps from_pretrained (auto_class_update), which leaves mypy a signature taking the model
        model = AutoModelForImageTextToText.from_pretrained(path_or_id, **model_kw).to(device)  # type: ignore[arg-type]
        processor = AutoProcessor.from_pretrained(path_or_id, **kw)
        logger.info("loaded %s (%s) as %s on %s", path_or_id, config.model_type, adapter_cls.__name__, device)
        return adapter_cls(model, processor)

    # ---- properties ----------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def max_context(self) -> int:
        """The language model's position limit (``text_config.max_position_embeddings``)."""
        return int(self.model.config.get_text_config().max_position_embeddings)

    @property
    def temporal_patch_size(self) -> int:
        return int(self.video_processor.temporal_patch_size)

    @property
    def spatial_factor(self) -> int:
        return int(self.video_processor.patch_size * self.video_processor.merge_size)

    def tokens_per_group(self, height: int, width: int) -> int:
        """LM tokens for one temporal group (``temporal_patch_size`` frames) at the given frame size."""
        return (height // self.spatial_factor) * (width // self.spatial_factor)

    def single_token_id(self, word: str) -> int:
        """Token id of ``word`` (e.g. " True"); raises if the tokenizer splits it."""
        ids = self.tokenizer.encode(word, add_special_tokens=False)
        if len(ids) != 1:
            pieces = self.tokenizer.convert_ids_to_tokens(ids)
            raise ValueError(
                f"the model's tokenizer splits {word!r} into {len(ids)} tokens {pieces}; TOPReward scores one "
                "answer token, so this model cannot be used as is"
            )
        return int(ids[0])

    # ---- frames --------------------------------------------------------------------------------------------
    def target_size(self, num_frames: int, height: int, width: int) -> tuple[int, int]:
        raise NotImplementedError

    def resize(self, frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Resize (T, 3, H, W) uint8 frames once with the processor's own filter; identity if already sized."""
        if tuple(frames.shape[-2:]) == tuple(size):
            return frames.contiguous()
        from transformers.image_utils import SizeDict

        out = self.video_processor.resize(
            frames, size=SizeDict(height=size[0], width=size[1]), resample=self.video_processor.resample
        )
        return out.clamp(0, 255).to(torch.uint8).contiguous()

    # ---- encoding ------------------------------------------------------------------------------------------
    def encode(self, text: str, clip: VideoClip):
        """Processor output (input_ids, mm_token_type_ids, pixel_values_videos, video_grid_thw, ...) for one clip.

        ``do_sample_frames=False``: the frames given are the frames used; ``do_resize=False``: they were
        resized once up front, so every prefix of an episode has the same per-frame resolution.
        """
        return self.processor(
            text=[text],
            videos=[clip.frames],
            video_metadata=[self.video_metadata(clip)],
            do_sample_frames=False,
            do_resize=False,
            return_tensors="pt",
        ).to(self.device)

    def expand_video_text(self, text: str, clip: VideoClip, grid_thw: tuple[int, int, int]) -> str:
        """``text`` with its video slot expanded exactly as the processor does (no pixel work)."""
        raise NotImplementedError

    def video_metadata(self, clip: VideoClip) -> dict[str, Any]:
        """``video_metadata`` for the processor: the frames' true episode indices and the episode's fps."""
        return clip.metadata()

    def token_ids(self, text: str, clip: VideoClip, size: tuple[int, int]) -> list[int]:
        """Token ids the processor would produce for ``clip`` at frame ``size``, without touching pixels."""
        groups = -(-len(clip.indices) // self.temporal_patch_size)
        grid = (
            groups,
            size[0] // self.video_processor.patch_size,
            size[1] // self.video_processor.patch_size,
        )
        return self.tokenizer(self.expand_video_text(text, clip, grid))["input_ids"]

    @torch.no_grad()
    def answer_logprobs(self, inputs, answer_ids: tuple[int, int]) -> np.ndarray:
        """One full forward (the naive path, as lerobot does): fp32 log p of both answers at position -2.

        TOPReward Eq. 1: r = log_softmax(logits[:, -2].float())[" True"], " True" being the last input token.
        Returns (2,) float64: [log p(answer), log p(negative answer)].
        """
        out = self.model(**inputs, logits_to_keep=2)
        logp = torch.log_softmax(out.logits[0, -2].float(), dim=-1)
        return logp[list(answer_ids)].double().cpu().numpy()


class Qwen3VLAdapter(VLMAdapter):
    """Qwen3-VL: every group of 2 frames is ``<t seconds><|vision_start|>`` + h·w/4 pads + ``<|vision_end|>``."""

    model_types = ("qwen3_vl",)
    supports_prefix_cache = True

    def target_size(self, num_frames: int, height: int, width: int) -> tuple[int, int]:
        from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

        size = self.video_processor.size
        return smart_resize(
            num_frames=num_frames,
            height=height,
            width=width,
            temporal_factor=self.temporal_patch_size,
            factor=self.spatial_factor,
            min_pixels=size["shortest_edge"],
            max_pixels=size["longest_edge"],
        )

    def expand_video_text(self, text: str, clip: VideoClip, grid_thw: tuple[int, int, int]) -> str:
        p = self.processor
        stamps = p._calculate_timestamps(list(clip.indices.tolist()), clip.fps, self.temporal_patch_size)
        per_group = grid_thw[1] * grid_thw[2] // self.video_processor.merge_size**2
        body = "".join(
            f"<{t:.1f} seconds>{p.vision_start_token}{p.video_token * per_group}{p.vision_end_token}"
            for t in stamps
        )
        slot = f"{p.vision_start_token}{p.video_token}{p.vision_end_token}"
        if text.count(slot) != 1:
            raise ValueError(f"prompt must contain exactly one video slot {slot!r}")
        return text.replace(slot, body, 1)


class Qwen25VLAdapter(VLMAdapter):
    """Qwen2.5-VL: one ``<|vision_start|>`` + t·h·w/4 pads + ``<|vision_end|>`` block; time via M-RoPE only."""

    model_types = ("qwen2_5_vl",)

    def video_metadata(self, clip: VideoClip) -> dict[str, Any]:
        """Qwen2.5-VL only knows a uniform rate (``second_per_grid_ts`` = 2 / fps): give the clip's own rate."""
        n, span = len(clip.indices), int(clip.indices[-1] - clip.indices[0])
        fps = clip.fps * (n - 1) / span if n > 1 and span > 0 else clip.fps
        return {"total_num_frames": n, "fps": float(fps), "frames_indices": list(range(n))}

    def target_size(self, num_frames: int, height: int, width: int) -> tuple[int, int]:
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        size = self.video_processor.size
        return smart_resize(
            height,
            width,
            factor=self.spatial_factor,
            min_pixels=size["shortest_edge"],
            max_pixels=size["longest_edge"],
        )

    def expand_video_text(self, text: str, clip: VideoClip, grid_thw: tuple[int, int, int]) -> str:
        n = grid_thw[0] * grid_thw[1] * grid_thw[2] // self.video_processor.merge_size**2
        token = self.processor.video_token
        if text.count(token) != 1:
            raise ValueError(f"prompt must contain exactly one video token {token!r}")
        return text.replace(token, token * n, 1)


ADAPTERS: dict[str, type[VLMAdapter]] = {
    t: cls for cls in (Qwen3VLAdapter, Qwen25VLAdapter) for t in cls.model_types
}


def adapter_for(model_type: str) -> type[VLMAdapter]:
    if model_type not in ADAPTERS:
        raise ValueError(f"no TOPReward adapter for model_type {model_type!r}; supported: {sorted(ADAPTERS)}")
    return ADAPTERS[model_type]
