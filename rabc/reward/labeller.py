"""Resumable, shardable labelling of a LeRobot dataset with a scorer → ``progress.parquet`` (lerobot format).

Work layout: every finished episode is one part file ``<out>.parts/ep_<episode:06d>.parquet`` written atomically
(rabc.io), so a SIGKILL loses at most the episode in flight. ``resume`` skips episodes whose part exists, is
readable and belongs to the same run (dataset fingerprint + scorer provenance); a corrupt part is logged and redone.
``shard=(i, n)`` takes every n-th episode (``episodes[i::n]``). :func:`merge_parts` checks that every frame of the
selected episodes is covered exactly once and writes the final parquet atomically.

Final columns: ``index, episode_index, frame_index`` (int64), ``progress_sparse`` (float32, the dense interpolated
progress of Eq. 2), and raw ``logp_true`` / ``logp_false`` (float64): the raw log p(" True") / log p(" False") at
anchor frames (the last frame of each scored prefix) and NaN at every other frame — never interpolated. Per-episode
anchors (prefix lengths and frames) are in the metadata under ``anchors``; provenance under the ``rabc`` key.
Only one episode's frames are ever in memory.

A length-bias corrected scorer's subtracted still curve is kept in each part's metadata (``logp_static``). With
``correction="static_task"`` (one still curve per task and clip length, from the first episode a process scores
with that key) a resumed shard first takes back the still curves its finished parts were scored with, so resuming
gives the numbers of an uninterrupted run of that shard; other shard layouts pick other reference episodes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from rabc.data import dataset_info, read_episode_frames
from rabc.io import RabcFileError, provenance_stamp, read_parquet, write_parquet
from rabc.progress import ProgressTable, write_progress
from rabc.reward.base import Scorer

logger = logging.getLogger(__name__)


def parts_dir(out: str | Path) -> Path:
    """The work directory beside ``out`` that holds one part file per finished episode."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def part_path(out: str | Path, episode_index: int) -> Path:
    return parts_dir(out) / f"ep_{int(episode_index):06d}.parquet"


def parse_shard(shard: str | Sequence[int] | None, env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``"i/n"`` (or ``(i, n)``) → (i, n); ``None`` → torchrun's ``RANK``/``WORLD_SIZE`` when set, else (0, 1)."""
    if env is None:
        env = os.environ
    if shard is None:
        if "RANK" in env and "WORLD_SIZE" in env:
            shard = (int(env["RANK"]), int(env["WORLD_SIZE"]))
        else:
            return 0, 1
    if isinstance(shard, str):
        try:
            i, n = (int(x) for x in shard.split("/"))
        except ValueError as e:
            raise ValueError(f"shard must look like 'i/n' (e.g. 0/4), got {shard!r}") from e
    else:
        i, n = (int(x) for x in shard)
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard {i}/{n}: need n >= 1 and 0 <= i < n")
    return i, n


def scorer_provenance(scorer: Scorer, name: str) -> dict[str, Any]:
    """The scorer's own :meth:`~rabc.reward.base.Scorer.provenance` plus the config ``name`` it was built from."""
    prov = dict(scorer.provenance())
    prov.setdefault("adapter_sha256", None)
    prov["scorer"] = name
    return prov


def run_key(fingerprint: str, provenance: dict[str, Any]) -> str:
    """Hash tying a part file to (dataset, scorer): parts of another run are never mixed in."""
    blob = json.dumps({"fp": fingerprint, "scorer": provenance}, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


class Labeller:
    """Score episodes of one dataset with ``scorer`` into part files, then merge them.

    Args:
        root: LeRobot v3 dataset root.
        scorer: any :class:`~rabc.reward.base.Scorer` (TopRewardScorer, the oracle and random references).
        out: final progress parquet path; parts go to ``<out>.parts/``.
        scorer_name: config name stamped into the provenance.
        camera: camera to score (default: the dataset's only video key).
        episodes: subset of episode indices (default: all); the merge then covers exactly these.
        rescore_mismatched: on resume, a part scored with other settings (any provenance field: dtype, device,
            package versions, git sha, weights, template mode, correction, ...) is an error naming the fields;
            ``True`` scores those episodes again with the current settings instead. Parts are never mixed.
    """

    def __init__(
        self,
        root: str | Path,
        scorer: Scorer,
        out: str | Path,
        *,
        scorer_name: str,
        camera: str | None = None,
        episodes: Sequence[int] | None = None,
        rescore_mismatched: bool = False,
    ) -> None:
        self.rescore_mismatched = rescore_mismatched
        self.root, self.scorer, self.out, self.camera = Path(root), scorer, Path(out), camera
        self.info = dataset_info(self.root)
        self.fps = self.info.fps
        table = self.info.episodes
        if episodes is not None:
            wanted = np.unique(np.asarray(list(episodes), dtype=np.int64))
            unknown = np.setdiff1d(wanted, table["episode_index"].to_numpy())
            if unknown.size:
                raise ValueError(f"{self.root}: episodes {unknown.tolist()} do not exist")
            table = table[table["episode_index"].isin(wanted)]
        self.episodes = table.sort_values("episode_index").reset_index(drop=True)
        self.fingerprint = self.info.fingerprint
        self.scorer_prov = scorer_provenance(scorer, scorer_name)
        self.key = run_key(self.fingerprint, self.scorer_prov)

    # ---- scoring -------------------------------------------------------------------------------------------
    def shard_episodes(self, shard: tuple[int, int] = (0, 1)) -> np.ndarray:
        i, n = shard
        return self.episodes["episode_index"].to_numpy()[i::n]

    def part_ok(self, episode_index: int) -> bool:
        """True when the episode's part exists, reads, and belongs to this run; corrupt parts are logged."""
        path = part_path(self.out, episode_index)
        if not path.is_file():
            return False
        try:
            _, meta = read_parquet(path)
        except RabcFileError as e:
            logger.warning("redoing episode %d: %s", episode_index, e)
            return False
        if meta.get("run_key") != self.key:
            fields = self._mismatch(meta)
            if not self.rescore_mismatched:
                raise RabcFileError(
                    f"{path}: scored with other settings ({fields}); resuming would mix numerics. Pass "
                    f"rescore_mismatched=true to score such episodes again, or delete {parts_dir(self.out)}"
                )
            logger.warning("rescoring episode %d: scored with other settings (%s)", episode_index, fields)
            return False
        try:
            self._read_part(path, episode_index)
        except RabcFileError as e:
            logger.warning("redoing episode %d: %s", episode_index, e)
            return False
        return True

    def _seed_static_references(self, done: list[int]) -> None:
        """correction="static_task": hand the scorer the still curves these finished parts subtracted (in episode
        order, the first per key), so the episodes still to score reuse them as an uninterrupted run would."""
        seed = getattr(self.scorer, "seed_static_reference", None)
        if seed is None:
            return
        for ep in done:
            _, meta = read_parquet(part_path(self.out, ep), columns=["frame_index"])
            stats, curve = meta.get("stats") or {}, meta.get("logp_static")
            if stats.get("static_key") is not None and curve is not None:
                seed(stats["static_key"], np.asarray(curve, dtype=np.float64), stats["static_reference"])

    def _mismatch(self, meta: dict[str, Any]) -> str:
        """The provenance fields (and dataset fingerprint) on which a part differs from this run, as text."""
        old = dict(meta.get("provenance") or {}, dataset_fingerprint=meta.get("dataset_fingerprint"))
        new = dict(self.scorer_prov, dataset_fingerprint=self.fingerprint)

        def norm(v: Any) -> Any:  # as stored in the part's JSON metadata (tuples become lists)
            return json.loads(json.dumps(v, default=str))

        diff = [
            f"{k}: {old.get(k)!r} -> {new.get(k)!r}"
            for k in sorted(set(old) | set(new))
            if norm(old.get(k)) != norm(new.get(k))
        ]
        return "; ".join(diff) or "run key differs"

    def run(
        self, shard: tuple[int, int] = (0, 1), *, resume: bool = False, show_progress: bool = True
    ) -> int:
        """Score this shard's episodes (skipping finished ones if ``resume``). Returns the number scored."""
        todo = [int(e) for e in self.shard_episodes(shard) if not (resume and self.part_ok(int(e)))]
        if resume and getattr(self.scorer, "correction", None) == "static_task":
            self._seed_static_references([int(e) for e in self.shard_episodes(shard) if int(e) not in todo])
        rows = self.episodes.set_index("episode_index")
        logger.info("shard %d/%d: %d episode(s) to score", shard[0], shard[1], len(todo))
        t0 = time.perf_counter()
        bar = tqdm(todo, desc=f"score {shard[0]}/{shard[1]}", unit="ep", disable=not show_progress)
        for done, ep in enumerate(bar, start=1):
            row = rows.loc[ep]
            self.score_one(ep, int(row["length"]), int(row["from_index"]), str(row["task"]))
            bar.set_postfix(ep_per_h=f"{3600 * done / max(time.perf_counter() - t0, 1e-9):.0f}")
        return len(todo)

    def score_one(self, episode_index: int, length: int, from_index: int, task: str) -> Path:
        """Score one episode and atomically write its part file."""
        if self.scorer.needs_frames:
            frames, _ = read_episode_frames(self.root, episode_index, camera=self.camera)
            if len(frames) != length:
                raise RabcFileError(
                    f"{self.root}: episode {episode_index} decoded {len(frames)} of {length} frames"
                )
        else:
            frames = np.zeros((length, 1, 1, 3), dtype=np.uint8)
        score = self.scorer.score_episode(frames, fps=self.fps, instruction=task, episode_index=episode_index)
        del frames
        progress = np.asarray(score.progress, dtype=np.float32)
        if progress.shape != (length,):
            raise ValueError(
                f"scorer returned progress of shape {progress.shape} for episode {episode_index}"
            )
        anchors = np.asarray(score.anchor_frames, dtype=np.int64)
        lp_true, lp_false = np.full(length, np.nan), np.full(length, np.nan)
        lp_true[anchors], lp_false[anchors] = score.logp_true, score.logp_false
        table = pa.table(
            {
                "frame_index": pa.array(np.arange(length, dtype=np.int64)),
                "progress_sparse": pa.array(progress, pa.float32()),
                "logp_true": pa.array(lp_true, pa.float64()),
                "logp_false": pa.array(lp_false, pa.float64()),
            }
        )
        meta = {
            "run_key": self.key,
            "provenance": self.scorer_prov,
            "dataset_fingerprint": self.fingerprint,
            "episode_index": int(episode_index),
            "from_index": int(from_index),
            "length": int(length),
            "task": task,
            "anchor_lengths": np.asarray(score.anchor_lengths).tolist(),
            "anchor_frames": anchors.tolist(),
            "frame_size": list(score.frame_size),
            "stats": score.stats,
            # the still curve a length-bias correction subtracted (None without one); resume of static_task reads it
            "logp_static": None if score.logp_static is None else np.asarray(score.logp_static).tolist(),
        }
        path = part_path(self.out, episode_index)
        write_parquet(path, table, meta)
        return path

    # ---- merging -------------------------------------------------------------------------------------------
    def missing_episodes(self) -> list[int]:
        return [int(e) for e in self.episodes["episode_index"] if not part_path(self.out, e).is_file()]

    def _read_part(self, path: Path, episode_index: int) -> tuple[pa.Table, dict[str, Any]]:
        table, meta = read_parquet(path)
        if meta.get("run_key") != self.key:
            raise RabcFileError(
                f"{path}: part of another run (other dataset or scorer settings); delete {parts_dir(self.out)}"
            )
        row = self.episodes[self.episodes["episode_index"] == episode_index].iloc[0]
        if meta.get("episode_index") != episode_index or table.num_rows != int(row["length"]):
            raise RabcFileError(
                f"{path}: holds {table.num_rows} frames of episode {meta.get('episode_index')}, expected "
                f"{int(row['length'])} frames of episode {episode_index}"
            )
        return table, meta

    def merge(self, tasks_prompts: dict[str, str] | None = None) -> ProgressTable:
        """Check coverage (every frame of the selected episodes exactly once) and write ``out`` atomically."""
        missing = self.missing_episodes()
        if missing:
            raise RabcFileError(
                f"{parts_dir(self.out)}: {len(missing)} episode(s) not scored yet: {missing[:20]}"
                f"{' …' if len(missing) > 20 else ''}; run the missing shards (resume=true) before merging"
            )
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("index", "episode_index", "frame_index")}
        vals: dict[str, list[np.ndarray]] = {k: [] for k in ("progress_sparse", "logp_true", "logp_false")}
        anchors: dict[str, dict[str, list]] = {}
        for row in self.episodes.itertuples(index=False):
            ep, n, start = int(row.episode_index), int(row.length), int(row.from_index)
            table, meta = self._read_part(part_path(self.out, ep), ep)
            fi = table.column("frame_index").to_numpy()
            cols["index"].append(start + fi)
            cols["episode_index"].append(np.full(n, ep, dtype=np.int64))
            cols["frame_index"].append(fi)
            for k in vals:
                vals[k].append(table.column(k).to_numpy())
            anchors[str(ep)] = {"lengths": meta["anchor_lengths"], "frames": meta["anchor_frames"]}
        index = np.concatenate(cols["index"])
        expected = np.concatenate(
            [
                np.arange(a, b)
                for a, b in zip(self.episodes["from_index"], self.episodes["to_index"], strict=True)
            ]
        )
        if index.size != expected.size or not np.array_equal(np.sort(index), np.sort(expected)):
            raise RabcFileError(
                f"{parts_dir(self.out)}: parts cover {index.size} frames ({np.unique(index).size} distinct) but the "
                f"{len(self.episodes)} episode(s) have {expected.size}"
            )
        total = self.info.total_frames
        provenance = {
            "dataset_root": str(self.root),
            "dataset_fingerprint": self.fingerprint,
            "dataset_total_frames": total,
            "num_episodes": len(self.episodes),
            "episodes": "all" if expected.size == total else self.episodes["episode_index"].tolist(),
            "fps": self.fps,
            "camera": self.camera,
            "prompts": tasks_prompts or self.prompts(),
            "anchors": anchors,
            **provenance_stamp(),
            "columns": {
                "progress_sparse": "dense progress (Eq. 2 min-max of the anchors, linear interpolation), float32",
                "logp_true": "raw log p(' True') at anchor frames (last frame of each prefix), NaN elsewhere",
                "logp_false": "raw log p(' False') at anchor frames, NaN elsewhere",
            },
            **self.scorer_prov,
        }
        progress_table = ProgressTable(
            index=index,
            episode_index=np.concatenate(cols["episode_index"]),
            frame_index=np.concatenate(cols["frame_index"]),
            progress=np.concatenate(vals["progress_sparse"]),
            provenance=provenance,
            extra={k: np.concatenate(vals[k]) for k in ("logp_true", "logp_false")},
        )
        write_progress(self.out, progress_table)
        logger.info("wrote %s (%d frames, %d episodes)", self.out, len(progress_table), len(self.episodes))
        return progress_table

    def prompts(self) -> dict[str, str] | None:
        """The exact prompt text per task string, for scorers that have one."""
        return self.scorer.prompts(sorted(set(self.episodes["task"])))


def label_dataset(
    root: str | Path,
    scorer: Scorer,
    out: str | Path,
    *,
    scorer_name: str,
    shard: str | Sequence[int] | None = None,
    resume: bool = False,
    merge: bool = True,
    merge_only: bool = False,
    episodes: Sequence[int] | None = None,
    camera: str | None = None,
    show_progress: bool = True,
    rescore_mismatched: bool = False,
) -> ProgressTable | None:
    """Score this process's shard, then merge if every selected episode is done (or raise with ``merge_only``).

    Returns the merged table, or None when other shards are still missing.
    """
    lab = Labeller(
        root, scorer, out, scorer_name=scorer_name, camera=camera, episodes=episodes,
        rescore_mismatched=rescore_mismatched,
    )  # fmt: skip
    if not merge_only:
        lab.run(parse_shard(shard), resume=resume, show_progress=show_progress)
    if merge_only or (merge and not lab.missing_episodes()):
        return lab.merge()
    logger.info("%d episode(s) still missing; merge later with merge_only=true", len(lab.missing_episodes()))
    return None
