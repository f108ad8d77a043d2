"""Build an adapter + lerobot pre/post processors from a policy name, features and dataset statistics.

``chunk_size`` is the one horizon name for every policy (ACT ``chunk_size``, Diffusion ``horizon``); everything
else is a lerobot config field, passed through unchanged (config keys equal these arguments).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from torch import nn

from rabc.io import RabcFileError
from rabc.policies.act import ACTAdapter
from rabc.policies.base import PolicyAdapter
from rabc.policies.diffusion import DiffusionAdapter
from rabc.policies.generic import ReductionNoneAdapter
from rabc.types import ACTION, OBS_ENV_STATE

logger = logging.getLogger(__name__)

_STAT_KEYS = {"MEAN_STD": ("mean", "std"), "MIN_MAX": ("min", "max"), "QUANTILES": ("q01", "q99")}


def _policy_features(
    name: str, input_features: dict | None, output_features: dict | None, ds_meta: Any, use_images: bool
) -> tuple[dict, dict]:
    from lerobot.configs import FeatureType
    from lerobot.utils.feature_utils import dataset_to_policy_features

    if ds_meta is not None:
        if input_features is not None or output_features is not None:
            raise ValueError("give either ds_meta or input_features/output_features, not both")
        features = dataset_to_policy_features(ds_meta.features)  # every observation.* / action key
        output_features = {k: f for k, f in features.items() if f.type is FeatureType.ACTION}
        input_features = {k: f for k, f in features.items() if k not in output_features}
    if not input_features or not output_features:
        raise ValueError("make_policy needs ds_meta, or both input_features and output_features")
    if ACTION not in output_features:
        raise ValueError(f"output_features must contain '{ACTION}', got {sorted(output_features)}")
    cameras = [k for k, f in input_features.items() if f.type is FeatureType.VISUAL]
    if use_images and not cameras:
        raise ValueError(f"use_images=True but the inputs have no camera: {sorted(input_features)}")
    if not use_images:
        input_features = {k: f for k, f in input_features.items() if f.type is not FeatureType.VISUAL}
    has_env = any(f.type is FeatureType.ENV for f in input_features.values())
    if name in ("act", "diffusion") and not has_env and not (use_images and cameras):
        raise ValueError(
            f"ACT and Diffusion need '{OBS_ENV_STATE}' or a camera among the inputs; got {sorted(input_features)}"
            + (" (cameras present but use_images=False)" if cameras else "")
        )
    return dict(input_features), dict(output_features)


def _config_kwargs(name: str, chunk_size: int | None, n_action_steps: int | None, overrides: dict) -> dict:
    """Map ``chunk_size`` onto the lerobot config and check horizon constraints with errors that name it."""
    import lerobot.policies  # noqa: F401  (registers every policy config class)
    from lerobot.configs import NormalizationMode, PreTrainedConfig

    try:
        cfg_cls = PreTrainedConfig.get_choice_class(name)
    except Exception as e:
        raise ValueError(f"unknown lerobot policy type {name!r}") from e
    fields = {f.name: f for f in dataclasses.fields(cfg_cls)}
    if "horizon" in overrides:
        raise ValueError("use `chunk_size` (the one horizon name), not `horizon`")
    if "drop_n_last_frames" in overrides:
        # lerobot's training sampler reads it; rabc's data module trains on every frame (the padded actions past an
        # episode's end are masked out of the loss), so the field would be recorded but never applied
        raise ValueError(
            "drop_n_last_frames is not supported: every frame is trained on, padded actions masked"
        )
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown {cfg_cls.__name__} fields: {unknown}")
    kw = dict(overrides)
    for (
        key,
        value,
    ) in kw.items():  # YAML gives lists where lerobot's fields are tuples (down_dims, crop_shape)
        if isinstance(value, list) and isinstance(fields[key].default, tuple):
            kw[key] = tuple(value)
    if "pretrained_backbone_weights" in fields:
        kw.setdefault("pretrained_backbone_weights", None)  # no downloads: ImageNet weights are opt-in
    # lerobot leaves FeatureType.ENV out of its normalization maps (so the env state would go in raw): normalise
    # it like the robot state unless the caller gave a mapping.
    if "normalization_mapping" in fields and "normalization_mapping" not in kw:
        default = fields["normalization_mapping"].default_factory
        mapping = dict(default()) if callable(default) else {}
        mapping.setdefault("ENV", mapping.get("STATE", NormalizationMode.MEAN_STD))
        kw["normalization_mapping"] = mapping

    horizon_field = "chunk_size" if "chunk_size" in fields else "horizon" if "horizon" in fields else None
    if chunk_size is not None:
        if horizon_field is None:
            raise ValueError(f"{cfg_cls.__name__} has no horizon field to set chunk_size on")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        kw[horizon_field] = chunk_size
    if n_action_steps is not None:
        kw["n_action_steps"] = n_action_steps

    if name == "diffusion":
        horizon = kw.get("horizon", fields["horizon"].default)
        n_obs = kw.get("n_obs_steps", fields["n_obs_steps"].default)
        down_dims = tuple(kw.get("down_dims", fields["down_dims"].default))
        factor = 2 ** len(down_dims)
        if horizon % factor:
            raise ValueError(
                f"chunk_size={horizon} must be a multiple of the U-Net downsampling factor 2**len(down_dims)={factor} "
                f"(down_dims={down_dims}); nearest valid: {sorted({max(factor, horizon // factor * factor), -(-horizon // factor) * factor})}"
            )
        kw.setdefault("n_action_steps", horizon // 2)  # lerobot 64/32, original Diffusion Policy 16/8
        if kw["n_action_steps"] > horizon - n_obs + 1:
            raise ValueError(
                f"n_action_steps={kw['n_action_steps']} exceeds chunk_size - n_obs_steps + 1 = {horizon - n_obs + 1}"
            )
    elif name == "act":
        chunk = kw.get("chunk_size", fields["chunk_size"].default)
        kw.setdefault("n_action_steps", chunk)
        if kw["n_action_steps"] > chunk:
            raise ValueError(f"n_action_steps={kw['n_action_steps']} exceeds chunk_size={chunk}")
    return kw


def _check_stats(cfg: Any, dataset_stats: dict | None) -> None:
    """lerobot's normaliser silently skips a feature without stats; here that is an error."""
    if dataset_stats is None:
        raise ValueError("dataset_stats is required (lerobot would silently leave features unnormalised)")
    features = {**cfg.input_features, **cfg.output_features}
    for key, feature in features.items():
        mode = cfg.normalization_mapping.get(feature.type.value)
        mode = getattr(mode, "value", mode)
        needed = _STAT_KEYS.get(mode, ())
        missing = [s for s in needed if s not in dataset_stats.get(key, {})]
        if missing:
            raise ValueError(f"dataset_stats['{key}'] lacks {missing} needed for {mode} normalisation")


def wrap_policy(policy: nn.Module) -> PolicyAdapter:
    """The adapter for an already built lerobot policy: ACT, Diffusion, or any ``reduction="none"`` policy."""
    kind = getattr(policy.config, "type", None)
    if kind == "act":
        return ACTAdapter(policy)
    if kind == "diffusion":
        return DiffusionAdapter(policy)
    return ReductionNoneAdapter(policy)


def build_config(
    name: str,
    *,
    ds_meta: Any = None,
    input_features: dict | None = None,
    output_features: dict | None = None,
    chunk_size: int | None = None,
    n_action_steps: int | None = None,
    use_images: bool = False,
    device: str | None = None,
    **overrides: Any,
) -> Any:
    """The validated lerobot config (``ACTConfig``, ``DiffusionConfig``, ...) :func:`make_policy` would build from;
    no model is allocated. Same arguments as :func:`make_policy` minus ``dataset_stats``."""
    from lerobot.policies.factory import make_policy_config
    from lerobot.utils.device_utils import auto_select_torch_device

    input_features, output_features = _policy_features(
        name, input_features, output_features, ds_meta, use_images
    )
    kw = _config_kwargs(name, chunk_size, n_action_steps, overrides)
    if device is None:  # the available accelerator (cuda, mps) or the CPU, as lerobot picks it
        device = auto_select_torch_device().type
    return make_policy_config(
        name, input_features=input_features, output_features=output_features, device=device, **kw
    )


def make_policy(
    name: str,
    *,
    ds_meta: Any = None,
    input_features: dict | None = None,
    output_features: dict | None = None,
    dataset_stats: dict | None = None,
    chunk_size: int | None = None,
    n_action_steps: int | None = None,
    use_images: bool = False,
    device: str | None = None,
    **overrides: Any,
) -> tuple[PolicyAdapter, Any, Any]:
    """Build ``(adapter, preprocessor, postprocessor)``.

    Args:
        name: lerobot policy type: ``"act"``, ``"diffusion"``, or another whose forward takes ``reduction``.
        ds_meta: a ``LeRobotDatasetMetadata`` (features and ``stats``), or give ``input_features`` and
            ``output_features`` (``PolicyFeature`` dicts) plus ``dataset_stats``.
        dataset_stats: ``{key: {"mean"/"std"/"min"/"max": array}}``; default ``ds_meta.stats``.
        chunk_size: actions per prediction (ACT ``chunk_size``, Diffusion ``horizon``).
        n_action_steps: actions executed per prediction (default: ACT ``chunk_size``, Diffusion ``chunk_size//2``).
        use_images: keep camera inputs (off: state + environment state, the fast CPU setting).
        device: ``"cpu"``, ``"cuda"``, ...; ``None`` lets lerobot pick the available one. The preprocessor moves
            batches to this device.
        **overrides: any other field of the lerobot config class (e.g. ``dim_model``, ``down_dims``).
    Returns:
        The adapter (train mode, on the config's device) and lerobot's pre/post processor pipelines.
    """
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    cfg = build_config(
        name, ds_meta=ds_meta, input_features=input_features, output_features=output_features,
        chunk_size=chunk_size, n_action_steps=n_action_steps, use_images=use_images, device=device, **overrides,
    )  # fmt: skip
    if dataset_stats is None and ds_meta is not None:
        dataset_stats = ds_meta.stats
    _check_stats(cfg, dataset_stats)
    policy = get_policy_class(name)(cfg).to(cfg.device)
    adapter = wrap_policy(policy)
    preprocessor, postprocessor = make_pre_post_processors(cfg, dataset_stats=dataset_stats)
    n_params = sum(p.numel() for p in policy.parameters())
    logger.info(
        "built %s: chunk_size=%d, %.2fM parameters, %s", name, adapter.chunk_size, n_params / 1e6, cfg.device
    )
    return adapter, preprocessor, postprocessor


def load_pretrained(directory: str | Path, device: str | None = None) -> tuple[PolicyAdapter, Any, Any]:
    """Load what :meth:`PolicyAdapter.save_pretrained` wrote (lerobot's layout) as ``(adapter, pre, post)``."""
    from lerobot.configs import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    directory = Path(directory)
    if not (directory / "config.json").is_file() or not (directory / "model.safetensors").is_file():
        raise RabcFileError(
            f"{directory}: not a lerobot policy directory (config.json / model.safetensors missing)"
        )
    cfg = PreTrainedConfig.from_pretrained(directory)
    if device is not None:
        cfg.device = device
    policy = get_policy_class(cfg.type).from_pretrained(directory, config=cfg).to(cfg.device)
    preprocessor, postprocessor = make_pre_post_processors(cfg, pretrained_path=str(directory))
    return wrap_policy(policy), preprocessor, postprocessor
