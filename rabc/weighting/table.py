"""The weights parquet and :class:`WeightTable` (global frame index → weight).

File format (written atomically by :func:`write_weights`):

    index (int64, global frame index, sorted), advantage (float32), weight (float32)

Metadata (JSON under the parquet key ``rabc``): scheme name, its parameters, horizon in seconds and frames, fps,
sha256 of the progress file, the dataset fingerprint copied from the progress provenance, num_frames, the scheme's
derived values (increment statistics, temperature value, NaN counts) and the weight diagnostics.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rabc.io import RabcFileError, file_sha256, provenance_stamp, read_parquet, write_parquet
from rabc.progress import ProgressTable, read_progress
from rabc.weighting.core import WeightResult
from rabc.weighting.schemes import EpisodeInfo, WeightingScheme

log = logging.getLogger(__name__)

WEIGHT_COLUMNS = ("index", "advantage", "weight")


def resolve_fps(progress: ProgressTable, fps: float | None) -> float:
    """fps from the progress provenance (key ``fps``), else the one given; a disagreement is logged and the
    explicit value wins."""
    prov = progress.provenance.get("fps")
    if fps is None:
        if prov is None:
            raise ValueError("the progress file records no fps: pass fps explicitly")
        return float(prov)
    if prov is not None and not np.isclose(float(prov), float(fps)):
        log.warning("fps=%s given, but the progress provenance says fps=%s: using %s", fps, prov, fps)
    return float(fps)


def check_no_gaps(progress: ProgressTable, path: str | Path) -> None:
    """Every episode's frames must start at frame 0 and follow each other (frame_index and index step by 1):
    a progress file with frames missing inside an episode would silently leave them without a weight."""
    if len(progress) == 0:
        return
    same = progress.episode_index[1:] == progress.episode_index[:-1]
    starts = np.r_[True, ~same]
    bad = same & ((np.diff(progress.frame_index) != 1) | (np.diff(progress.index) != 1))
    first = starts & (progress.frame_index != 0)
    if bad.any() or first.any():
        row = int(np.flatnonzero(np.r_[False, bad] | first)[0])
        ep, fr = int(progress.episode_index[row]), int(progress.frame_index[row])
        prev = "its start" if first[row] else f"frame {int(progress.frame_index[row - 1])}"
        raise RabcFileError(
            f"{path}: frames missing inside episode {ep} (frame {fr} follows {prev}); "
            "every frame of a scored episode needs a progress value: score that episode again"
        )


def compute_weights(
    progress_path: str | Path,
    scheme: WeightingScheme,
    *,
    fps: float | None = None,
    episode_info: EpisodeInfo | None = None,
    expect_num_frames: int | None = None,
    expect_fingerprint: str | None = None,
) -> tuple[WeightResult, dict[str, Any]]:
    """Read a progress parquet (checked against the dataset when ``expect_*`` are given), apply ``scheme``;
    returns (result, weights-file metadata)."""
    progress = read_progress(
        progress_path, expect_num_frames=expect_num_frames, expect_fingerprint=expect_fingerprint
    )
    check_no_gaps(progress, progress_path)
    fps_v = resolve_fps(progress, fps)
    result = scheme(progress, fps_v, episode_info)
    meta = {
        **provenance_stamp(),
        "scheme": scheme.kind,
        "name": scheme.name,
        "params": scheme.params(),
        "fps": fps_v,
        "horizon_s": result.info.get("horizon_s"),
        "horizon_frames": result.info.get("horizon_frames"),
        "progress_path": str(progress_path),
        "progress_sha256": file_sha256(progress_path),
        "dataset_fingerprint": progress.provenance.get("dataset_fingerprint"),
        "num_frames": len(result),
        "num_episodes": result.info.get("num_episodes"),
        "derived": result.info,
    }
    return result, meta


def write_weights(path: str | Path, result: WeightResult, metadata: dict[str, Any]) -> None:
    """Atomically write ``result`` as a weights parquet with ``metadata``."""
    table = pa.table(
        {
            "index": pa.array(result.index, pa.int64()),
            "advantage": pa.array(result.advantage, pa.float32()),
            "weight": pa.array(result.weight, pa.float32()),
        }
    )
    write_parquet(path, table, {**metadata, "num_frames": len(result)})


class WeightTable:
    """Weights by global frame index, with validation against a dataset and vectorised lookup.

    Args:
        index: (M,) global indices (sorted here if needed; duplicates are an error).
        weight: (M,) finite, non-negative weights.
        advantage: (M,) advantages or None.
        metadata: the weights-file metadata.
        fallback_weight: weight for indices absent from the table; ``None`` (default) makes them an error.
    """

    def __init__(
        self,
        index: np.ndarray,
        weight: np.ndarray,
        advantage: np.ndarray | None = None,
        metadata: dict[str, Any] | None = None,
        fallback_weight: float | None = None,
        source: str = "<memory>",
    ):
        index = np.array(index, dtype=np.int64)  # own, writable copies (arrow arrays are read-only)
        weight = np.array(weight, dtype=np.float32)
        if len(index) != len(weight):
            raise RabcFileError(f"{source}: {len(index)} indices but {len(weight)} weights")
        order = np.argsort(index, kind="stable") if np.any(np.diff(index) <= 0) else None
        if order is not None:
            index, weight = index[order], weight[order]
            advantage = None if advantage is None else np.asarray(advantage)[order]
            if np.any(np.diff(index) == 0):
                dup = int(index[np.flatnonzero(np.diff(index) == 0)[0]])
                raise RabcFileError(f"{source}: global index {dup} appears more than once")
        if not np.all(np.isfinite(weight)) or np.any(weight < 0):
            raise RabcFileError(f"{source}: weights must be finite and non-negative")
        if fallback_weight is not None and (not np.isfinite(fallback_weight) or fallback_weight < 0):
            raise ValueError(f"fallback_weight must be finite and non-negative, got {fallback_weight}")
        self.index = index
        self.weight = weight
        self.advantage = None if advantage is None else np.asarray(advantage, dtype=np.float32)
        self.metadata = dict(metadata or {})
        self.fallback_weight = fallback_weight
        self.source = source
        self.num_fallback = 0  # frames looked up without a weight (only possible with a fallback)

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def from_result(
        cls, result: WeightResult, metadata: dict[str, Any] | None = None, **kw: Any
    ) -> WeightTable:
        return cls(result.index, result.weight, result.advantage, metadata, **kw)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        expect_num_frames: int | None = None,
        expect_fingerprint: str | None = None,
        fallback_weight: float | None = None,
    ) -> WeightTable:
        """Read and validate a weights parquet; RabcFileError names the file and the problem."""
        table, meta = read_parquet(path)
        missing = [c for c in WEIGHT_COLUMNS if c not in table.column_names]
        if missing:
            raise RabcFileError(
                f"{path}: weights parquet lacks column(s) {missing}; has {table.column_names}"
            )
        wt = cls(
            table.column("index").to_numpy(),
            table.column("weight").to_numpy(zero_copy_only=False),
            table.column("advantage").to_numpy(zero_copy_only=False),
            meta,
            fallback_weight=fallback_weight,
            source=str(path),
        )
        if meta.get("num_frames") is not None and int(meta["num_frames"]) != len(wt):
            raise RabcFileError(
                f"{path}: metadata says {meta['num_frames']} frames but the file holds {len(wt)}"
            )
        if fallback_weight is not None and expect_num_frames is not None and len(wt) != expect_num_frames:
            # an explicit fallback covers the frames without a weight (counted and logged at lookup)
            log.warning(
                "%s: weights cover %d frames, the dataset has %d; missing frames get fallback_weight=%s",
                path,
                len(wt),
                expect_num_frames,
                fallback_weight,
            )
            expect_num_frames = None
        wt.validate(num_frames=expect_num_frames, fingerprint=expect_fingerprint)
        return wt

    def validate(self, *, num_frames: int | None = None, fingerprint: str | None = None) -> None:
        """Check the table belongs to a dataset (frame count, fingerprint); RabcFileError on mismatch.

        A table without a recorded fingerprint is checked by frame count only.
        """
        recorded = self.metadata.get("dataset_fingerprint")
        if fingerprint is not None and recorded is not None and recorded != fingerprint:
            raise RabcFileError(
                f"{self.source}: weights were computed for another dataset (fingerprint {str(recorded)[:12]}…, "
                f"this dataset {fingerprint[:12]}…)"
            )
        if num_frames is not None and len(self) != num_frames:
            raise RabcFileError(
                f"{self.source}: weights cover {len(self)} frames but the dataset has {num_frames}"
            )

    def lookup(self, global_indices: np.ndarray) -> np.ndarray:
        """Weights for ``global_indices`` (any shape, array-like), vectorised with searchsorted.

        Returns float32 of the same shape. A missing
        index raises KeyError unless ``fallback_weight`` is set; then it gets that weight, is counted in
        ``num_fallback`` and logged as a warning.
        """
        q = np.asarray(global_indices, dtype=np.int64)
        if len(self.index) == 0:
            found = np.zeros(q.shape, dtype=bool)
            out = np.zeros(q.shape, dtype=np.float32)
        else:
            pos = np.minimum(np.searchsorted(self.index, q), len(self.index) - 1)
            found = self.index[pos] == q
            out = self.weight[pos]
        if not found.all():
            out = np.where(found, out, self._fallback(q[~found])).astype(np.float32)
        return out

    def _fallback(self, missing: np.ndarray) -> float:
        examples = missing.reshape(-1)[:5].tolist()
        if self.fallback_weight is None:
            raise KeyError(
                f"{self.source}: {missing.size} frame(s) have no weight (global indices e.g. {examples}); recompute "
                "the weights for this dataset or configure an explicit fallback_weight"
            )
        self.num_fallback += int(missing.size)
        log.warning(
            "%s: %d frame(s) without a weight (e.g. %s) get fallback_weight=%s (%d so far)",
            self.source,
            missing.size,
            examples,
            self.fallback_weight,
            self.num_fallback,
        )
        return float(self.fallback_weight)
