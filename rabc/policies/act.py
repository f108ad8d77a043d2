"""Per-sample loss for lerobot 0.6.1's ``ACTPolicy`` (its ``forward`` only returns the batch mean)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from rabc.policies.base import PolicyAdapter, masked_mean_per_sample, require_keys, valid_mask
from rabc.types import ACTION, OBS_STATE

OBS_IMAGES = "observation.images"  # lerobot's stacked-camera key (lerobot.utils.constants.OBS_IMAGES)


class ACTAdapter(PolicyAdapter):
    """ACT with ``compute_loss(batch) -> (B,)``.

    Loss of sample i (ACT, Zhao et al. 2023, Eq. 1 — the CVAE objective as lerobot implements it)::

        ℓ_i = Σ_{t,a} |a_ita − â_ita| · v_it / (A · Σ_t v_it)  +  kl_weight · KL_i
        KL_i = −½ Σ_l (1 + log σ²_il − μ²_il − σ²_il)

    with v_it = ¬action_is_pad. Padding is excluded *per sample*: lerobot instead divides the whole batch's
    masked L1 by the batch's valid-element count, so its L1 equals Σ_i ℓ1_i n_i / Σ_i n_i (n_i = A·Σ_t v_it);
    the two coincide when every sample has the same number of valid steps (always true without padding).
    The KL term is only present in training mode with ``use_vae`` (as in lerobot); the VAE encoder masks padded
    actions with ``key_padding_mask``, so padded action values change neither term.
    """

    def _model_batch(self, batch: dict[str, Tensor]) -> dict[str, Any]:
        # Mirrors ACTPolicy.forward: the model reads cameras as one list under "observation.images".
        image_keys = list(self.config.image_features)
        require_keys(batch, [OBS_STATE, ACTION, *image_keys], "ACTAdapter.compute_loss")
        if not image_keys:
            return batch
        out: dict[str, Any] = dict(batch)  # shallow copy: do not add a key to the caller's batch
        out[OBS_IMAGES] = [batch[k] for k in image_keys]
        return out

    def compute_loss_terms(self, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """Per-sample terms, each (B,): ``loss``, ``l1``, ``kld`` (zeros when the VAE is off), ``n_valid``."""
        model_batch = self._model_batch(batch)
        actions_hat, (mu, log_sigma_x2) = self.policy.model(model_batch)  # (B, S, A), (B, L) x2
        target = batch[ACTION]  # (B, S, A)
        if target.shape != actions_hat.shape:
            raise ValueError(
                f"'{ACTION}' has shape {tuple(target.shape)}, the model predicts {tuple(actions_hat.shape)} "
                f"(chunk_size={self.chunk_size})"
            )
        abs_err = F.l1_loss(actions_hat, target, reduction="none")  # (B, S, A)
        l1, n_valid = masked_mean_per_sample(abs_err, valid_mask(batch))  # (B,), (B,)
        if self.config.use_vae and log_sigma_x2 is not None:
            # KL(N(μ, σ²) || N(0, I)) summed over the latent dimension (Kingma & Welling 2014, App. B).
            kld = (-0.5 * (1 + log_sigma_x2 - mu.pow(2) - log_sigma_x2.exp())).sum(-1)  # (B,)
            loss = l1 + self.config.kl_weight * kld
        else:
            kld = torch.zeros_like(l1)
            loss = l1
        return {"loss": loss, "l1": l1, "kld": kld, "n_valid": n_valid}

    def compute_loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Per-sample ACT loss (B,) on a normalised batch: ``observation.state`` (B, Ds), ``observation.
        environment_state`` (B, De) and/or cameras (B, 3, H, W), ``action`` (B, S, A), ``action_is_pad`` (B, S)."""
        return self.compute_loss_terms(batch)["loss"]
