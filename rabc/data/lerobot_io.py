"""LeRobotDataset v3.0 read/write, strictly offline, with errors that name the bad file.

lerobot falls back to a Hugging Face hub download whenever a local file is missing, and creates a missing
``root`` on load. Every loader here first checks the local layout (``meta/info.json``, ``meta/episodes``,
``meta/tasks.parquet``, the data parquet files and video files the episodes point to, feature shapes) and raises
:class:`rabc.io.RabcFileError` naming the file, so lerobot never has a reason to reach for the network.

Layout (lerobot 0.6.1): ``meta/info.json``, ``meta/stats.json``, ``meta/tasks.parquet``,
``meta/episodes/chunk-*/file-*.parquet``, ``data/chunk-*/file-*.parquet``, ``videos/<key>/chunk-*/file-*.mp4``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rabc.io import RabcFileError

logger = logging.getLogger(__name__)

INFO_PATH = "meta/info.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
#: rabc's generation sidecar (config + per-episode seed, task, quality, success, length), see rabc.data.generate.
SIDECAR_PATH = "meta/rabc_generation.json"
DEFAULT_REPO_ID = "rabc/local"


def _info(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise RabcFileError(f"{root}: dataset root does not exist (rabc never downloads datasets)")
    path = root / INFO_PATH
    if not path.is_file():
        raise RabcFileError(f"{path}: missing; {root} is not a LeRobot v3 dataset (was finalize() called?)")
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RabcFileError(f"{path}: not valid JSON ({e})") from e
    for key in ("fps", "features", "total_episodes", "total_frames", "data_path"):
        if key not in info:
            raise RabcFileError(f"{path}: lacks key {key!r}")
    return info


@dataclass(frozen=True)
class DatasetInfo:
    """The one reading of a local dataset's ``meta/info.json`` (fps, frame and episode counts, features), with
    the per-episode table and the fingerprint computed on first use. Every rabc module that needs a dataset's
    fps or size asks :func:`dataset_info`; none opens info.json itself."""

    root: Path
    fps: float
    total_frames: int
    total_episodes: int
    features: dict[str, Any] = field(repr=False)
    raw: dict[str, Any] = field(repr=False)  # the whole info.json

    @cached_property
    def episodes(self) -> pd.DataFrame:
        """:func:`episode_table` of the dataset."""
        return episode_table(self.root)

    @cached_property
    def fingerprint(self) -> str:
        """:func:`dataset_fingerprint` of the dataset."""
        return dataset_fingerprint(self.root)


def dataset_info(root: str | Path) -> DatasetInfo:
    """:class:`DatasetInfo` of the LeRobot v3 dataset at ``root``; :class:`RabcFileError` naming the file when
    ``meta/info.json`` is missing, not JSON, or lacks a required key."""
    root = Path(root)
    info = _info(root)
    return DatasetInfo(
        root=root,
        fps=float(info["fps"]),
        total_frames=int(info["total_frames"]),
        total_episodes=int(info["total_episodes"]),
        features=info["features"],
        raw=info,
    )


def _read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    if not path.is_file():
        raise RabcFileError(f"{path}: file not found")
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as e:
        raise RabcFileError(f"{path}: not a readable parquet file ({e})") from e


def episode_meta_files(root: str | Path) -> list[Path]:
    """The per-episode metadata parquet files of a LeRobot v3 root, sorted; [] when it has none."""
    return sorted((Path(root) / EPISODES_DIR).glob("chunk-*/file-*.parquet"))


def episodes_meta(root: str | Path) -> pd.DataFrame:
    """lerobot's per-episode metadata (without the stats columns), sorted by episode_index."""
    root = Path(root)
    files = episode_meta_files(root)
    if not files:
        raise RabcFileError(f"{root / EPISODES_DIR}: no episode metadata parquet files")
    cols_wanted = None
    tables = []
    for f in files:
        schema = _read_schema(f)
        cols_wanted = [c for c in schema.names if not c.startswith("stats/")]
        tables.append(_read_table(f, cols_wanted).to_pandas())
    df = (
        pd.concat(tables, ignore_index=True)
        .sort_values("episode_index", kind="stable")
        .reset_index(drop=True)
    )
    return df


def _read_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise RabcFileError(f"{path}: not a readable parquet file ({e})") from e


def validate_dataset(
    root: str | Path,
    expected_features: dict[str, dict] | None = None,
    episodes: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Check a local dataset is complete and readable; return its ``info.json``.

    Checks: root and ``meta/info.json`` exist; ``meta/tasks.parquet`` and ``meta/episodes`` parse; every data
    parquet and video file referenced by the (selected) episodes exists, parses (parquet footer) and is non-empty;
    the first row of each data file has the per-frame shape declared in ``info.json``; and, when
    ``expected_features`` is given, each expected feature is declared with that shape and dtype.
    Raises :class:`RabcFileError` naming the first bad file.
    """
    root = Path(root)
    info = _info(root)
    features = info["features"]
    if expected_features:
        for key, spec in expected_features.items():
            if key not in features:
                raise RabcFileError(f"{root / INFO_PATH}: feature {key!r} missing; has {sorted(features)}")
            got = features[key]
            if tuple(got["shape"]) != tuple(spec["shape"]) or got["dtype"] != spec["dtype"]:
                raise RabcFileError(
                    f"{root / INFO_PATH}: feature {key!r} is {got['dtype']}{list(got['shape'])}, "
                    f"expected {spec['dtype']}{list(spec['shape'])}"
                )
    _read_table(root / TASKS_PATH)
    eps = episodes_meta(root)
    if len(eps) != info["total_episodes"]:
        raise RabcFileError(
            f"{root / EPISODES_DIR}: {len(eps)} episodes listed but {INFO_PATH} says {info['total_episodes']}"
        )
    if episodes is not None:
        bad = sorted(set(int(e) for e in episodes) - set(eps["episode_index"].tolist()))
        if bad:
            raise ValueError(f"{root}: episodes {bad[:10]} do not exist (dataset has {len(eps)})")
        eps = eps[eps["episode_index"].isin(list(episodes))]
    data_files = {
        info["data_path"].format(chunk_index=int(c), file_index=int(f))
        for c, f in zip(eps["data/chunk_index"], eps["data/file_index"])
    }
    vector_keys = {
        k: tuple(v["shape"])
        for k, v in features.items()
        if v["dtype"] not in ("video", "image", "string") and tuple(v["shape"]) not in ((), (1,))
    }
    for rel in sorted(data_files):
        path = root / rel
        table = _read_table(path)
        if table.num_rows == 0:
            raise RabcFileError(f"{path}: data file has no rows")
        for key, shape in vector_keys.items():
            if key not in table.column_names:
                raise RabcFileError(f"{path}: column {key!r} declared in {INFO_PATH} is missing")
            first = np.asarray(table.column(key)[0].as_py())
            if first.shape != shape:
                raise RabcFileError(
                    f"{path}: column {key!r} holds rows of shape {list(first.shape)}, "
                    f"but {INFO_PATH} declares {list(shape)}"
                )
    video_keys = [k for k, v in features.items() if v["dtype"] == "video"]
    for key in video_keys:
        ci, fi = eps[f"videos/{key}/chunk_index"], eps[f"videos/{key}/file_index"]
        for c, f in sorted(set(zip(ci.astype(int), fi.astype(int)))):
            path = root / info["video_path"].format(video_key=key, chunk_index=c, file_index=f)
            if not path.is_file() or path.stat().st_size == 0:
                raise RabcFileError(f"{path}: video file missing or empty")
    return info


def load_dataset(
    root: str | Path,
    delta_timestamps: dict[str, list[float]] | None = None,
    episodes: Sequence[int] | None = None,
    expected_features: dict[str, dict] | None = None,
    repo_id: str | None = None,
    **kwargs: Any,
):
    """Open a local LeRobotDataset v3.0 after :func:`validate_dataset`; never contacts the hub.

    ``delta_timestamps``: ``{key: [seconds, ...]}`` (multiples of 1/fps); ``episodes``: episode indices to load;
    extra ``kwargs`` go to ``LeRobotDataset`` (e.g. ``video_backend``, ``return_uint8``).
    """
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = Path(root)
    validate_dataset(root, expected_features=expected_features, episodes=episodes)
    try:
        return LeRobotDataset(
            repo_id or DEFAULT_REPO_ID,
            root=root,
            delta_timestamps=delta_timestamps,
            episodes=list(episodes) if episodes is not None else None,
            **kwargs,
        )
    except (OSError, pa.ArrowInvalid) as e:  # hub errors are OSError subclasses
        raise RabcFileError(f"{root}: lerobot could not open the dataset offline ({e})") from e


def create_dataset(
    root: str | Path, features: dict[str, dict], fps: int, repo_id: str | None = None, **kwargs
):
    """Start a new LeRobotDataset v3.0 at ``root`` (must not exist) with videos; call ``finalize()`` when done."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    root = Path(root)
    if root.exists():
        raise FileExistsError(f"{root}: already exists; choose a new root or remove it first")
    return LeRobotDataset.create(
        repo_id or DEFAULT_REPO_ID, fps, root=root, features=features, use_videos=True, **kwargs
    )


def dataset_fingerprint(root: str | Path) -> str:
    """sha256 of canonical JSON of {fps, total_frames, per-episode lengths and tasks, feature names/shapes/dtypes}.

    Ties progress and weight files to the dataset they were computed on; unchanged by re-encoding videos or
    moving the directory, changed by any change of episodes, lengths, tasks or features.
    """
    root = Path(root)
    info = _info(root)
    eps = episodes_meta(root)
    doc = {
        "fps": int(info["fps"]),
        "total_frames": int(info["total_frames"]),
        "lengths": [int(x) for x in eps["length"]],
        "tasks": [list(map(str, t)) for t in eps["tasks"]],
        "features": {k: [list(v["shape"]), v["dtype"]] for k, v in sorted(info["features"].items())},
    }
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def read_sidecar(root: str | Path) -> dict[str, Any] | None:
    """The generator's sidecar JSON, or None for datasets rabc did not generate."""
    path = Path(root) / SIDECAR_PATH
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RabcFileError(f"{path}: not valid JSON ({e})") from e


def episode_table(root: str | Path) -> pd.DataFrame:
    """One row per episode: episode_index, length, from_index, to_index (global, exclusive), task, and — for
    generated datasets — quality (int), quality_name, success (bool), seed, heldout (bool); -1/NA otherwise."""
    root = Path(root)
    eps = episodes_meta(root)
    df = pd.DataFrame(
        {
            "episode_index": eps["episode_index"].astype(np.int64),
            "length": eps["length"].astype(np.int64),
            "from_index": eps["dataset_from_index"].astype(np.int64),
            "to_index": eps["dataset_to_index"].astype(np.int64),
            "task": [str(t[0]) if len(t) else "" for t in eps["tasks"]],
        }
    )
    side = read_sidecar(root)
    if side is not None:
        sdf = pd.DataFrame(side["episodes"])
        if len(sdf) != len(df) or not np.array_equal(sdf["episode_index"].to_numpy(), df["episode_index"]):
            raise RabcFileError(f"{root / SIDECAR_PATH}: episode list does not match {root / EPISODES_DIR}")
        for col in ("quality", "quality_name", "success", "seed", "heldout", "env_task"):
            df[col] = sdf[col].to_numpy()
    else:
        df["quality"], df["quality_name"], df["success"] = -1, "", pd.NA
        df["seed"], df["heldout"], df["env_task"] = -1, False, ""
    return df


def read_episode_frames(
    root: str | Path,
    episode_index: int,
    camera: str | None = None,
    frame_indices: Sequence[int] | None = None,
    backend: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode one episode's camera frames with lerobot's video decoder.

    Args:
        camera: camera name (``observation.images.<camera>``) or full key; default: the only video key.
        frame_indices: frames within the episode (default: all).
    Returns:
        frames uint8 (T, H, W, 3) and timestamps float64 (T,) in seconds from the episode start.
    """
    from lerobot.datasets.video_utils import decode_video_frames

    root = Path(root)
    info = _info(root)
    video_keys = [k for k, v in info["features"].items() if v["dtype"] == "video"]
    if not video_keys:
        raise RabcFileError(f"{root / INFO_PATH}: dataset has no video features")
    if camera is None:
        if len(video_keys) > 1:
            raise ValueError(f"{root}: several cameras {video_keys}; pass camera=")
        key = video_keys[0]
    else:
        key = camera if camera in video_keys else f"observation.images.{camera}"
        if key not in video_keys:
            raise ValueError(f"{root}: no video feature for camera {camera!r}; has {video_keys}")
    eps = episodes_meta(root)
    row = eps[eps["episode_index"] == int(episode_index)]
    if row.empty:
        raise ValueError(f"{root}: episode {episode_index} does not exist (dataset has {len(eps)})")
    row = row.iloc[0]
    length = int(row["length"])
    idx = np.arange(length) if frame_indices is None else np.asarray(frame_indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= length):
        raise ValueError(
            f"episode {episode_index} has {length} frames; asked for frames {idx.min()}..{idx.max()}"
        )
    fps = float(info["fps"])
    ts = idx / fps
    path = root / info["video_path"].format(
        video_key=key,
        chunk_index=int(row[f"videos/{key}/chunk_index"]),
        file_index=int(row[f"videos/{key}/file_index"]),
    )
    if not path.is_file():
        raise RabcFileError(f"{path}: video file missing")
    shifted = (float(row[f"videos/{key}/from_timestamp"]) + ts).tolist()
    try:
        frames = decode_video_frames(path, shifted, tolerance_s=0.5 / fps, backend=backend, return_uint8=True)
    except Exception as e:  # torchcodec / pyav raise many types on a corrupt file
        raise RabcFileError(f"{path}: cannot decode frames of episode {episode_index} ({e})") from e
    frames = frames.permute(0, 2, 3, 1).contiguous().numpy()  # (T, C, H, W) -> (T, H, W, C)
    return frames.astype(np.uint8, copy=False), ts
