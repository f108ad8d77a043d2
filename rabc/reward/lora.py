"""peft LoRA on a TOPReward VLM: which modules to adapt, wrapping, saving, loading and the adapter hash.

Adapters are saved in peft's standard layout (``adapter_config.json`` + ``adapter_model.safetensors`` via
``PeftModel.save_pretrained``), so ``peft.PeftModel.from_pretrained(base, path)`` loads them anywhere. The
adapter hash (sha256 of ``adapter_model.safetensors``) identifies the weights in progress-parquet provenance.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from rabc.io import RabcFileError, file_sha256

logger = logging.getLogger(__name__)

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"

#: Linear layers of the Qwen-VL language model (attention and MLP projections).
LM_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
#: Linear layers of the Qwen-VL vision tower blocks (Qwen3-VL: attn.qkv/proj, mlp.linear_fc1/2;
#: Qwen2.5-VL: attn.qkv/proj, mlp.gate_proj/up_proj/down_proj).
VISION_TARGETS = ("qkv", "proj", "linear_fc1", "linear_fc2", "gate_proj", "up_proj", "down_proj")


def target_regex(*, vision: bool = False) -> str:
    """peft ``target_modules`` regex (full-match on module names): LM projections, optionally vision blocks."""
    pattern = rf".*language_model\.layers\.\d+\..*\.({'|'.join(LM_TARGETS)})"
    if vision:
        pattern += rf"|.*visual\.blocks\.\d+\..*\.({'|'.join(VISION_TARGETS)})"
    return pattern


def add_lora(
    model: torch.nn.Module,
    *,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.0,
    vision: bool = False,
    seed: int = 0,
):
    """Wrap ``model`` in a ``peft.PeftModel`` with LoRA on the LM projections (and vision blocks if asked).

    Only the LoRA matrices are trainable. ``lora_B`` starts at zero, so the wrapped model's outputs equal the base
    model's until the first update. Returns the PeftModel.
    """
    from peft import LoraConfig, get_peft_model

    if r < 1:
        raise ValueError(f"LoRA rank r must be >= 1, got {r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"LoRA dropout must be in [0, 1), got {dropout}")
    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_regex(vision=vision), bias="none"
    )
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, config)
    n_train = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    n_all = sum(p.numel() for p in peft_model.parameters())
    logger.info(
        "LoRA r=%d alpha=%d vision=%s: %d of %d parameters trainable", r, alpha, vision, n_train, n_all
    )
    return peft_model


def save_adapter(peft_model, out_dir: str | Path) -> str:
    """``save_pretrained`` the adapter (peft's standard format) and return its sha256 hash."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(str(out))
    return adapter_hash(out)


def adapter_hash(path: str | Path) -> str:
    """sha256 of ``<path>/adapter_model.safetensors``: the adapter's identity for provenance."""
    weights = Path(path) / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise RabcFileError(f"{weights}: no peft adapter weights (expected a save_pretrained directory)")
    return file_sha256(weights)


def load_adapter(model: torch.nn.Module, path: str | Path, *, merge: bool = True) -> torch.nn.Module:
    """Apply a saved peft adapter to ``model``: merged into the base weights (a plain model again, so the exact
    cached prefix sweep applies) or kept as a ``PeftModel`` (``merge=False``). Returned in eval mode."""
    from peft import PeftModel

    path = Path(path)
    if not (path / ADAPTER_CONFIG).is_file():
        raise RabcFileError(f"{path / ADAPTER_CONFIG}: missing; {path} is not a peft adapter directory")
    adapter_hash(path)  # raises a clear error when the weights are missing
    peft_model = PeftModel.from_pretrained(model, str(path), is_trainable=False)
    out = peft_model.merge_and_unload() if merge else peft_model
    logger.info("loaded LoRA adapter %s (%s)", path, "merged" if merge else "unmerged")
    return out.eval()
