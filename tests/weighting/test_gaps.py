"""The weights refuse a progress file with frames missing inside an episode, naming the episode and frame."""

import numpy as np
import pytest

from rabc.io import RabcFileError
from rabc.progress import ProgressTable, write_progress
from rabc.weighting import TopAWR, compute_weights

from .synth import synth_progress


def _drop(table: ProgressTable, rows) -> ProgressTable:
    keep = np.setdiff1d(np.arange(len(table)), rows)
    return ProgressTable(table.index[keep], table.episode_index[keep], table.frame_index[keep],
                         table.progress[keep], provenance=table.provenance)  # fmt: skip


def test_complete_episodes_and_whole_missing_episodes_are_accepted(tmp_path):
    full = synth_progress([12, 15, 10])
    write_progress(tmp_path / "full.parquet", full)
    result, _ = compute_weights(tmp_path / "full.parquet", TopAWR(horizon_s=0.3))
    assert len(result.weight) == 37
    write_progress(tmp_path / "two.parquet", _drop(full, np.arange(12, 27)))  # episode 1 not scored at all
    result, _ = compute_weights(tmp_path / "two.parquet", TopAWR(horizon_s=0.3))
    assert len(result.weight) == 22


@pytest.mark.parametrize(("rows", "message"), [
    ([17], "episode 1 (frame 6 follows frame 4)"),  # a frame inside an episode
    ([27], "episode 2 (frame 1 follows its start)"),  # an episode's first frame
    ([30, 31, 32], "episode 2 (frame 6 follows frame 2)"),  # a run of frames
])  # fmt: skip
def test_frames_missing_inside_an_episode_are_refused(tmp_path, rows, message):
    path = tmp_path / "gappy.parquet"
    write_progress(path, _drop(synth_progress([12, 15, 10]), rows))
    with pytest.raises(
        RabcFileError,
        match=r"gappy\.parquet: frames missing inside " + message.replace("(", r"\(").replace(")", r"\)"),
    ):
        compute_weights(path, TopAWR(horizon_s=0.3))
