"""make_policy: horizon naming and validation, feature selection, stats checks, the generic adapter."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from lerobot.configs import FeatureType, PolicyFeature
from torch import nn

from rabc.policies import ACTAdapter, DiffusionAdapter, ReductionNoneAdapter, make_policy
from rabc.types import ACTION, OBS_ENV_STATE, OBS_STATE
from tests.policies.tiny import TINY, build, features, stats


def test_one_horizon_name(tiny):
    adapter, _, _ = tiny
    assert adapter.chunk_size == 8
    if isinstance(adapter, DiffusionAdapter):
        assert adapter.config.horizon == 8
        assert adapter.delta_indices()[ACTION] == list(range(-1, 7))
        assert adapter.delta_indices()[OBS_STATE] == [-1, 0]
    else:
        assert isinstance(adapter, ACTAdapter)
        assert adapter.n_action_steps == 8
        assert adapter.delta_indices() == {ACTION: list(range(8))}
    assert adapter.delta_timestamps(fps=10)[ACTION][1] == pytest.approx(
        adapter.delta_indices()[ACTION][1] / 10
    )


def test_diffusion_chunk_size_must_divide_by_downsampling():
    with pytest.raises(
        ValueError, match=r"chunk_size=10 must be a multiple .* factor 2\*\*len\(down_dims\)=4"
    ):
        build("diffusion", chunk_size=10)
    with pytest.raises(ValueError, match=r"chunk_size=12 .*=8 .*nearest valid: \[8, 16\]"):
        build("diffusion", chunk_size=12, down_dims=(8, 16, 32))


@pytest.mark.parametrize(
    "name, kw, match",
    [
        ("diffusion", {"horizon": 16}, "use `chunk_size`"),
        ("diffusion", {"drop_n_last_frames": 3}, "drop_n_last_frames is not supported"),
        ("act", {"dim_modle": 8}, "unknown ACTConfig fields"),
        ("act", {"n_action_steps": 9}, "n_action_steps=9 exceeds chunk_size=8"),
        ("diffusion", {"n_action_steps": 8}, "exceeds chunk_size - n_obs_steps"),
        ("nope", {}, "unknown lerobot policy type"),
    ],
)
def test_config_errors(name, kw, match):
    with pytest.raises(ValueError, match=match):
        build(name, **kw) if name != "nope" else make_policy(
            name, input_features=features()[0], output_features=features()[1]
        )


def test_state_only_inputs_are_refused():
    inputs, outputs = features()
    del inputs[OBS_ENV_STATE]
    with pytest.raises(ValueError, match="environment_state' or a camera"):
        make_policy("act", input_features=inputs, output_features=outputs, dataset_stats=stats())


def test_missing_stats_are_an_error():
    inputs, outputs = features()
    st = stats()
    del st[OBS_ENV_STATE]["std"]
    with pytest.raises(ValueError, match=r"dataset_stats\['observation.environment_state'\] lacks \['std'\]"):
        make_policy("act", input_features=inputs, output_features=outputs, dataset_stats=st, **TINY["act"])
    with pytest.raises(ValueError, match="dataset_stats is required"):
        make_policy("act", input_features=inputs, output_features=outputs, **TINY["act"])


def test_ds_meta_features_and_optional_images():
    meta = SimpleNamespace(
        features={
            OBS_STATE: {"dtype": "float32", "shape": (4,), "names": None},
            OBS_ENV_STATE: {"dtype": "float32", "shape": (17,), "names": None},
            "observation.images.corner": {"dtype": "video", "shape": (128, 128, 3), "names": ["h", "w", "c"]},
            ACTION: {"dtype": "float32", "shape": (4,), "names": None},
            "index": {"dtype": "int64", "shape": (1,), "names": None},
        },
        stats=stats(),
    )
    adapter, _, _ = make_policy("act", ds_meta=meta, **TINY["act"])
    assert set(adapter.config.input_features) == {OBS_STATE, OBS_ENV_STATE}
    assert not adapter.config.image_features
    assert adapter.config.pretrained_backbone_weights is None
    with pytest.raises(ValueError, match="use_images=True but the inputs have no camera"):
        make_policy("act", input_features=features()[0], output_features=features()[1], use_images=True)


def test_environment_state_is_normalised():
    """lerobot's default maps leave FeatureType.ENV raw; the factory normalises it like the state."""
    inputs, outputs = features()
    st = stats()
    st[OBS_ENV_STATE]["mean"] = torch.full((17,), 3.0)
    st[OBS_ENV_STATE]["std"] = torch.full((17,), 2.0)
    st[OBS_ENV_STATE]["min"] = torch.full((17,), 1.0)
    st[OBS_ENV_STATE]["max"] = torch.full((17,), 5.0)
    for name in ("act", "diffusion"):
        _, pre, _ = make_policy(
            name, input_features=inputs, output_features=outputs, dataset_stats=st, **TINY[name]
        )
        out = pre({OBS_STATE: torch.zeros(4), OBS_ENV_STATE: torch.full((17,), 5.0)})
        expected = 1.0  # MEAN_STD: (5 - 3) / 2 for ACT; MIN_MAX: 2 (5 - 1) / (5 - 1) - 1 for Diffusion
        torch.testing.assert_close(out[OBS_ENV_STATE], torch.full((1, 17), expected), rtol=1e-4, atol=1e-4)


class _PerSamplePolicy(nn.Module):
    """A stand-in for lerobot policies whose forward supports reduction='none' (pi0, smolvla, ...)."""

    def __init__(self, bad_shape: bool = False):
        super().__init__()
        self.lin = nn.Linear(3, 1)
        self.bad_shape = bad_shape
        self.config = SimpleNamespace(type="toy", chunk_size=5, n_action_steps=5)

    def forward(self, batch, reduction="mean"):
        loss = self.lin(batch["x"]).squeeze(-1) ** 2  # (B,)
        if self.bad_shape:
            loss = loss.unsqueeze(-1)
        return (loss if reduction == "none" else loss.mean()), {}


def test_generic_adapter():
    x = torch.randn(6, 3)
    adapter = ReductionNoneAdapter(_PerSamplePolicy())
    loss = adapter.compute_loss({"x": x})
    assert loss.shape == (6,)
    torch.testing.assert_close(loss.mean(), adapter.policy(dict(x=x))[0])
    with pytest.raises(ValueError, match=r"returned shape \(6, 1\), expected \(6,\)"):
        ReductionNoneAdapter(_PerSamplePolicy(bad_shape=True)).compute_loss({"x": x})
    act, _, _ = build("act")
    with pytest.raises(ValueError, match="ACTPolicy.forward has no `reduction` argument"):
        ReductionNoneAdapter(act.policy)


def test_missing_batch_key_is_named(tiny):
    adapter, _, _ = tiny
    with pytest.raises(KeyError, match="lacks \\['action'\\]"):
        adapter.compute_loss({OBS_STATE: torch.zeros(2, 4), OBS_ENV_STATE: torch.zeros(2, 17)})


def test_outputs_need_action():
    inputs, _ = features()
    with pytest.raises(ValueError, match="output_features must contain 'action'"):
        make_policy(
            "act", input_features=inputs, output_features={"a": PolicyFeature(FeatureType.ACTION, (4,))}
        )
