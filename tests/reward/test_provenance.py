"""Progress provenance: numerics-deciding settings are recorded, and a resume with other settings is refused."""

from __future__ import annotations

import pytest

from rabc.io import RabcFileError
from rabc.progress import read_progress
from rabc.reward.labeller import label_dataset
from rabc.reward.topreward import TopRewardScorer
from tests.reward.test_labeller import Counting

FIELDS = ("dtype", "device", "torch_version", "transformers_version", "peft_version", "rabc_version", "git_sha",
          "weights_sha256", "chat_template", "correction")  # fmt: skip


def test_provenance_fields_in_the_parquet(tiny_dataset, tiny_vlm_dir, tmp_path):
    out = tmp_path / "p.parquet"
    scorer = TopRewardScorer(str(tiny_vlm_dir), num_anchors=3)
    label_dataset(tiny_dataset, scorer, out, scorer_name="t", episodes=[0], show_progress=False)
    prov = read_progress(out).provenance
    for key in FIELDS:
        assert key in prov, key
    assert prov["dtype"] == "float32" and prov["device"] == "cpu" and prov["correction"] == "none"
    assert prov["weights_sha256"] and prov["chat_template"] is False


def test_resume_with_another_dtype_names_the_field(tiny_dataset, tiny_vlm_dir, tmp_path):
    out = tmp_path / "p.parquet"
    fp32 = TopRewardScorer(str(tiny_vlm_dir), num_anchors=3)
    label_dataset(tiny_dataset, fp32, out, scorer_name="t", episodes=[0, 1], merge=False, show_progress=False)
    bf16 = Counting(TopRewardScorer(str(tiny_vlm_dir), num_anchors=3, dtype="bfloat16"))
    with pytest.raises(RabcFileError, match=r"dtype: 'float32' -> 'bfloat16'.*rescore_mismatched=true"):
        label_dataset(
            tiny_dataset, bf16, out, scorer_name="t", episodes=[0, 1], resume=True, show_progress=False
        )
    assert bf16.calls == []  # nothing mixed in
    t = label_dataset(
        tiny_dataset, bf16, out, scorer_name="t", episodes=[0, 1], resume=True, rescore_mismatched=True,
        show_progress=False,
    )  # fmt: skip
    assert len(bf16.calls) == 2 and t is not None and t.provenance["dtype"] == "bfloat16"
