"""Per-sample loss for lerobot 0.6.1's ``DiffusionPolicy`` (its ``forward`` only returns the batch mean).

Uses lerobot internals (``DiffusionModel._prepare_global_conditioning``, ``noise_scheduler``, ``unet``); lerobot
is pinned exactly and ``tests/policies/test_parity.py`` checks parity with ``DiffusionModel.compute_loss``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from rabc.policies.base import (
    PolicyAdapter,
    edge_pad_actions,
    masked_mean_per_sample,
    require_keys,
    valid_mask,
)
from rabc.types import ACTION, OBS_STATE

OBS_IMAGES = "observation.images"  # lerobot's stacked-camera key (lerobot.utils.constants.OBS_IMAGES)


class DiffusionAdapter(PolicyAdapter):
    """Diffusion Policy with ``compute_loss(batch) -> (B,)``.

    Per sample i, with one timestep k_i ~ U{0..K−1} and noise ε_i ~ N(0, I) (Chi et al. 2023, Eq. 5)::

        ℓ_i = Σ_{t,a} (ε̂_θ(√ᾱ_k a_i + √(1−ᾱ_k) ε_i, k_i, obs_i) − y_i)²_ta · v_it / (A · Σ_t v_it)

    with y = ε (``prediction_type="epsilon"``) or y = a (``"sample"``) and v_it = ¬action_is_pad. Padded slots
    are excluded per sample, and before noising they are overwritten by the nearest valid action (what
    ``LeRobotDataset`` puts there anyway), because the U-Net convolves over the whole horizon: this makes a
    sample's loss independent of the values in its padded slots.

    Random draws happen in lerobot's order (image crops inside the conditioning, then ε, then k), so under the same
    seed ``loss.mean()`` equals lerobot's ``forward`` loss when no step is padded, and the valid-count weighted
    mean Σ ℓ_i n_i / Σ n_i equals it with ``do_mask_loss_for_padding=True`` (n_i = A·Σ_t v_it).
    """

    def _model_batch(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        # Mirrors DiffusionPolicy.forward: cameras stacked as (B, n_obs, n_cam, C, H, W) under "observation.images".
        image_keys = list(self.config.image_features)
        require_keys(batch, [OBS_STATE, ACTION, *image_keys], "DiffusionAdapter.compute_loss")
        if not image_keys:
            return batch
        batch = dict(batch)
        for key in image_keys:
            if self.config.n_obs_steps == 1 and batch[key].ndim == 4:
                batch[key] = batch[key].unsqueeze(1)
        batch[OBS_IMAGES] = torch.stack([batch[key] for key in image_keys], dim=-4)
        return batch

    def _check_shapes(self, batch: dict[str, Tensor]) -> None:
        cfg = self.config
        state, action = batch[OBS_STATE], batch[ACTION]
        if state.ndim != 3 or state.shape[1] != cfg.n_obs_steps:
            raise ValueError(
                f"'{OBS_STATE}' must be (B, n_obs_steps={cfg.n_obs_steps}, D); got {tuple(state.shape)}"
            )
        if action.ndim != 3 or action.shape[1] != cfg.horizon:
            raise ValueError(
                f"'{ACTION}' must be (B, chunk_size={cfg.horizon}, A); got {tuple(action.shape)}"
            )

    def compute_loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Per-sample denoising loss (B,) on a normalised batch: ``observation.state`` (B, n_obs, Ds),
        ``observation.environment_state`` (B, n_obs, De) and/or cameras (B, n_obs, 3, H, W),
        ``action`` (B, chunk_size, A), ``action_is_pad`` (B, chunk_size)."""
        model_batch = self._model_batch(batch)
        self._check_shapes(model_batch)
        diffusion = self.policy.diffusion
        valid = valid_mask(batch)  # (B, T)

        global_cond = diffusion._prepare_global_conditioning(model_batch)  # (B, n_obs * cond_dim)
        trajectory = edge_pad_actions(model_batch[ACTION], valid)  # (B, T, A)
        # Same draws, same order and same calls as DiffusionModel.compute_loss.
        eps = torch.randn(trajectory.shape, device=trajectory.device)  # (B, T, A)
        timesteps = torch.randint(
            low=0,
            high=diffusion.noise_scheduler.config.num_train_timesteps,
            size=(trajectory.shape[0],),
            device=trajectory.device,
        ).long()  # (B,)
        noisy = diffusion.noise_scheduler.add_noise(trajectory, eps, timesteps)  # (B, T, A)
        pred = diffusion.unet(noisy, timesteps, global_cond=global_cond)  # (B, T, A)

        if self.config.prediction_type == "epsilon":
            target = eps
        elif self.config.prediction_type == "sample":
            target = trajectory
        else:
            raise ValueError(f"Unsupported prediction_type {self.config.prediction_type!r}")
        err = F.mse_loss(pred, target, reduction="none")  # (B, T, A)
        loss, _ = masked_mean_per_sample(err, valid)  # (B,)
        return loss
