"""Exact prefix sweep for Qwen3-VL: encode an episode once, reuse vision features and the shared LM KV cache.

Every TOPReward prefix τ[1:L] shares its leading frames with the full episode. With Qwen3-VL (transformers
5.4-5.5) the naive sweep (one full forward per prefix) can be reproduced exactly from one vision call and one
LM pass over the shared part, because:

- layout: each group of 2 frames is ``<t seconds><|vision_start|>`` + h·w/4 pads + ``<|vision_end|>``; a prefix
  of L frames equals the full episode's token sequence up to its last *complete* group (L // 2 groups); an odd
  L ends in a padded group (frame L-1 twice, its own timestamp) that must be computed for that prefix;
- the vision tower attends within one temporal group only (``cu_seqlens`` from ``grid_thw``) and its position
  embeddings repeat per group, so one vision call over [complete groups | padded groups] gives every group's
  features (and DeepStack rows) exactly as each prefix's own call would;
- M-RoPE positions (``get_rope_index``) only count forward, so a prefix's positions of the shared part equal the
  full episode's; the remainder's positions are sliced from the prefix's own ``get_rope_index`` (the stale
  ``rope_deltas`` path would be off by ~5e-3);
- DeepStack adds features at visual positions only: the cached forward gets the mask and rows of its new tokens;
- causal attention: the KV of the first s tokens does not depend on later tokens, so a ``DynamicCache`` of
  views cut to a prefix's shared length s is that prefix's own cache; ``update`` concatenates into new tensors,
  leaving the shared cache untouched for the next prefix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from rabc.reward.adapters import VideoClip, VLMAdapter

logger = logging.getLogger(__name__)


@dataclass
class SweepStats:
    """Work done by one sweep: visual tokens through the vision tower's merger, tokens through the LM."""

    visual_tokens: int = 0
    lm_tokens: int = 0
    vision_calls: int = 0
    lm_calls: int = 0


def _common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if diff.size else n


def _group_pixels(adapter: VLMAdapter, frames: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Patchify (F, 3, h, w) frames (F even) with the processor; returns (patches, [groups, gh, gw])."""
    out = adapter.video_processor(
        videos=[frames], do_resize=False, do_sample_frames=False, return_tensors="pt", return_metadata=False
    )
    return out["pixel_values_videos"], out["video_grid_thw"][0].tolist()


def _dynamic_cache_view(model, shared, length: int):
    """A DynamicCache whose layers are views [:, :, :length] of the shared keys/values (no copy)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache(config=model.config)
    for layer, (k, v) in zip(cache.layers, shared):
        if not isinstance(layer, DynamicLayer):
            raise TypeError(f"the cached sweep needs full-attention cache layers, got {type(layer).__name__}")
        layer.lazy_initialization(k, v)
        layer.keys, layer.values = k[:, :, :length], v[:, :, :length]
    return cache


@torch.no_grad()
def cached_prefix_logprobs(
    adapter: VLMAdapter,
    text: str,
    clip: VideoClip,
    lengths: np.ndarray,
    answer_ids: tuple[int, int],
    stats: SweepStats | None = None,
    batch_size: int = 1,
) -> np.ndarray:
    """log p of (answer, negative answer) for each prefix length, numerically equal to the naive sweep.

    text: prompt with one video slot, ending in the answer token; clip: the episode's frames (F, 3, h, w),
    already resized; lengths: (K,) prefix lengths in frames, 1 <= L <= F; batch_size: remainders per LM call
    (> 1 pays off on GPUs; sequential on CPU). Returns (K, 2) float64.
    """
    stats = stats if stats is not None else SweepStats()
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    model, tps = adapter.model, adapter.temporal_patch_size
    if tps != 2:
        raise ValueError(f"the cached sweep assumes groups of 2 frames, got temporal_patch_size={tps}")
    inner, lm, device = model.model, model.model.language_model, adapter.device
    size = (int(clip.frames.shape[-2]), int(clip.frames.shape[-1]))  # (h, w)
    n_frames = len(clip.indices)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0 or lengths.min() < 1 or lengths.max() > n_frames:
        raise ValueError(f"prefix lengths must lie in [1, {n_frames}], got {lengths.tolist()}")

    # 1. one vision call: the complete groups of the episode, then one padded group per odd prefix.
    n_complete = n_frames // 2
    odd = sorted({int(L) for L in lengths if L % 2})
    parts = []
    if n_complete:
        parts.append(clip.frames[: 2 * n_complete])
    if odd:
        parts.append(clip.frames[[i - 1 for i in odd for _ in range(2)]])  # (2·n_odd, 3, h, w)
    pix, grids = zip(*(_group_pixels(adapter, p) for p in parts))
    grid_thw = torch.tensor(grids, device=device)  # (n_parts, 3)
    vis = inner.visual(torch.cat(pix).to(device, inner.visual.dtype), grid_thw=grid_thw, return_dict=True)
    per_group = adapter.tokens_per_group(*size)
    patches_h, patches_w = (x // adapter.video_processor.patch_size for x in size)
    feats = vis.pooler_output.view(-1, per_group, vis.pooler_output.shape[-1])  # (G_c + n_odd, T_g, D)
    deep = [d.view(-1, per_group, d.shape[-1]) for d in vis.deepstack_features]
    stats.visual_tokens += feats.shape[0] * per_group
    stats.vision_calls += 1
    odd_slot = {L: n_complete + i for i, L in enumerate(odd)}  # prefix length -> its padded group's row

    # 2. token ids and M-RoPE positions of every prefix (text only, no pixels).
    video_id = inner.config.video_token_id
    vstart_id = inner.config.vision_start_token_id
    ids = {
        int(L): np.asarray(adapter.token_ids(text, clip.prefix(int(L)), size), dtype=np.int64)
        for L in lengths
    }
    ref = np.asarray(adapter.token_ids(text, clip, size), dtype=np.int64)  # the full episode
    shared_len = {}
    for L, seq in ids.items():
        if seq[-1] != answer_ids[0]:
            raise ValueError(f"prompt for prefix {L} does not end in the answer token")
        starts = np.flatnonzero(seq == vstart_id)
        cap = (
            int(starts[L // 2]) if L // 2 < len(starts) else len(seq)
        )  # never past group L//2's vision_start
        shared_len[L] = min(_common_prefix(seq, ref), cap, len(seq) - 2)

    def embed(seq: np.ndarray, groups: list[int]):
        """Embeddings of ``seq`` with the given groups' features at its video pads; mask; DeepStack rows."""
        tok = torch.as_tensor(seq, device=device)[None]  # (1, S)
        emb = inner.get_input_embeddings()(tok)  # (1, S, D)
        mask = tok == video_id  # (1, S)
        if not groups:
            return emb, None, None
        idx = torch.as_tensor(groups, device=device)
        rows = feats[idx].flatten(0, 1)  # (n_pads, D)
        if int(mask.sum()) != rows.shape[0]:
            raise RuntimeError(f"{int(mask.sum())} video pads but {rows.shape[0]} feature rows")
        emb = emb.masked_scatter(mask[..., None], rows.to(emb.dtype))
        return emb, mask, [d[idx].flatten(0, 1) for d in deep]

    def positions(seq: np.ndarray, start: int) -> torch.Tensor:
        """M-RoPE ids (3, 1, S) of ``seq`` whose first token sits where the running position is ``start``.

        ``get_rope_index`` only counts forward (each token or group starts at the previous maximum + 1), so
        the ids of a prefix's remainder equal its own full ``get_rope_index`` sliced there, at a fraction of
        the cost of re-indexing the whole prefix for every anchor.
        """
        tok = torch.as_tensor(seq, device=device)[None]
        groups = int((tok == vstart_id).sum())
        grid = torch.tensor([[groups, patches_h, patches_w]], device=device) if groups else None
        pos, _ = inner.get_rope_index(tok, mm_token_type_ids=(tok == video_id).int() * 2, video_grid_thw=grid)
        return pos + start

    # 3. one LM pass over the longest shared part (positions from the full episode's own rope index).
    s_max = max(shared_len.values())
    shared = None
    if s_max > 0:
        n_groups_shared = int((ref[:s_max] == vstart_id).sum())
        emb, mask, ds = embed(ref[:s_max], list(range(n_groups_shared)))
        pos = positions(ref[:s_max], 0)  # (3, 1, s_max)
        next_pos = pos[:, 0].amax(0).cummax(0).values + 1  # (s_max,) running position after each token
        out = lm(inputs_embeds=emb, position_ids=pos, use_cache=True, visual_pos_masks=mask,
                 deepstack_visual_embeds=ds)  # fmt: skip
        shared = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
        stats.lm_tokens += s_max
        stats.lm_calls += 1

    # 4. per prefix: a view of the shared cache + the prefix's own remainder tokens (optionally batched).
    result = np.empty((len(lengths), 2), dtype=np.float64)
    jobs = []  # (row in result, shared length s, remainder embeddings, mask, deepstack rows, positions)
    for k, L in enumerate(int(x) for x in lengths):
        seq, s = ids[L], shared_len[L]
        rest = seq[s:]
        groups_in_rest = int((rest == vstart_id).sum())
        if groups_in_rest > (L % 2):
            raise RuntimeError(f"prefix {L}: {groups_in_rest} groups left outside the shared cache")
        emb, mask, ds = embed(rest, [odd_slot[L]] if groups_in_rest else [])
        jobs.append((k, s, emb, mask, ds, positions(rest, int(next_pos[s - 1]) if s > 0 else 0)))
        stats.lm_tokens += len(rest)
    jobs.sort(key=lambda job: job[1])  # similar shared lengths together: less masked cache per batch
    for b in range(0, len(jobs), batch_size):
        batch = jobs[b : b + batch_size]
        run = _run_remainder if len(batch) == 1 else _run_remainder_batch
        logits = run(model, shared, batch)  # (B, V), each at its own position -2
        logp = torch.log_softmax(logits.float(), dim=-1)  # TOPReward Eq. 1, fp32
        rows = [job[0] for job in batch]
        result[rows] = logp[:, list(answer_ids)].double().cpu().numpy()
        stats.lm_calls += 1
    return result


def _run_remainder(model, shared, batch) -> torch.Tensor:
    """One prefix: its remainder on top of a view of the shared cache cut at its own shared length."""
    (_, s, emb, mask, ds, pos) = batch[0]
    cache = _dynamic_cache_view(model, shared, s) if s > 0 else None
    out = model.model.language_model(inputs_embeds=emb, position_ids=pos, past_key_values=cache,
                                     use_cache=cache is not None, visual_pos_masks=mask, deepstack_visual_embeds=ds)  # fmt: skip
    return model.lm_head(out.last_hidden_state[:, -2])  # (1, V)


def _run_remainder_batch(model, shared, batch) -> torch.Tensor:
    """Several prefixes in one LM call (for GPUs): the shared cache up to the batch's longest shared length,
    with each prefix's cache positions past its own shared length masked out, remainders right-padded.

    Positions are explicit (M-RoPE ids), so masked cache rows and padding leave every prefix's logits as in its
    own forward, up to float reassociation.
    """
    s_max = max(job[1] for job in batch)
    r_max = max(job[2].shape[1] for job in batch)
    n, device = len(batch), batch[0][2].device
    emb = batch[0][2].new_zeros(n, r_max, batch[0][2].shape[-1])  # (B, R, D)
    pos = torch.zeros(3, n, r_max, dtype=torch.long, device=device)  # (3, B, R)
    vis = torch.zeros(n, r_max, dtype=torch.bool, device=device)  # (B, R)
    attn = torch.ones(n, s_max + r_max, dtype=torch.long, device=device)  # (B, S + R)
    deep: list[list[torch.Tensor]] = []
    for i, (_, s, e, m, ds, p) in enumerate(batch):
        r = e.shape[1]
        emb[i, :r], pos[:, i, :r], pos[:, i, r:] = e[0], p[:, 0], p[:, 0, -1:]
        attn[i, s:s_max], attn[i, s_max + r :] = 0, 0
        if m is not None:
            vis[i, :r] = m[0]
            deep.append(ds)
    deepstack = [torch.cat(rows) for rows in zip(*deep)] if deep else None  # row-major over the batch
    cache = None
    if s_max > 0:
        views = [
            (k[:, :, :s_max].expand(n, -1, -1, -1), v[:, :, :s_max].expand(n, -1, -1, -1)) for k, v in shared
        ]
        cache = _dynamic_cache_view(model, views, s_max)
    out = model.model.language_model(inputs_embeds=emb, position_ids=pos, attention_mask=attn, past_key_values=cache,
                                     use_cache=cache is not None, visual_pos_masks=vis if deep else None,
                                     deepstack_visual_embeds=deepstack)  # fmt: skip
    last = torch.tensor([job[2].shape[1] - 2 for job in batch], device=device)
    hidden = out.last_hidden_state[torch.arange(n, device=device), last]  # (B, D)
    return model.lm_head(hidden)  # (B, V)
