"""``make_tiny_vlm``: a tiny random Qwen3-VL / Qwen2.5-VL (model + tokenizer + processor) for offline tests and CPU
pipelines; loads with ``from_pretrained(out)``. Its scores carry no meaning until it is trained."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from rabc.app.cli import runtime_defaults


@dataclass(frozen=True)
class TinyVlmResult:
    out: Path


def run(cfg: DictConfig) -> TinyVlmResult:
    """``cfg.out`` plus :func:`rabc.reward.tiny.make_tiny_vlm`'s keyword arguments (null = its default)."""
    runtime_defaults()
    from rabc.reward.tiny import make_tiny_vlm

    kw = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert isinstance(kw, dict)
    out = kw.pop("out")
    return TinyVlmResult(Path(make_tiny_vlm(out, **{str(k): v for k, v in kw.items() if v is not None})))
