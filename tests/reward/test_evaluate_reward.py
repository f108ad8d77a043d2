"""rabc.app.evaluate_reward on the tiny VLM and the tiny generated dataset: tables, plots, sane numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from rabc.app import evaluate_reward

ROOT = Path(__file__).resolve().parents[2]


def test_evaluate_reward_tiny(tiny_vlm_dir, tiny_dataset, tmp_path):
    out = tmp_path / "eval"
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base=None):
        cfg = compose(
            "evaluate_reward",
            overrides=[f"model={tiny_vlm_dir}", f"datasets=[{tiny_dataset}]", f"out={out}", "n_boot=200",
                       "gvl.tokens_per_frame=2"],
        )  # fmt: skip
    res = evaluate_reward.run(cfg)
    results = res.results
    assert (
        res.tables == out / "tables.md" and res.plots and all(str(p) in results["plots"] for p in res.plots)
    )
    md = (out / "tables.md").read_text()
    for title in ("Table 1", "Table 2", "Table 3", "Table 5", "Static-frame bias", "GVL parse failures"):
        assert title in md
    assert "| 0.857 |" in md and "| 0.654 |" in md  # the paper's numbers beside ours
    assert "0.954 / 0.942 / 0.947 / 0.945" in md  # Table 2 per split
    for p in results["plots"]:
        assert Path(p).is_file() and Path(p).stat().st_size > 1000
    assert (out / f"progress_curves_{Path(tiny_dataset).name}.png").is_file()
    assert (out / "voc_distribution.png").is_file()
    assert json.loads((out / "results.json").read_text())["table1_voc"].keys() >= {"topreward", "gvl"}

    df = pd.read_csv(out / "episodes.csv")
    n_eps = df["episode_index"].nunique()
    assert set(df["scorer"]) >= {"topreward", "topreward_chat", "gvl"}
    # GVL on random weights never parses: every episode counted as a failure and left out of the means
    fails = results["gvl_parse_failures"][Path(tiny_dataset).name]
    assert fails == {"failed": n_eps, "episodes": n_eps}
    assert not np.isfinite(results["table1_voc"]["gvl"])
    tr = df[df["scorer"] == "topreward"]
    assert np.all(np.abs(tr["voc"]) <= 1) and tr["static_voc"].notna().all()
    oracle = df[df["scorer"] == "oracle"]
    clean = oracle[oracle["quality"] == "clean"]
    assert (
        len(clean) and clean["voc"].mean() > 0.9 and clean["voc"].min() > 0.8
    )  # progress rises on clean demos
    assert results["table1_voc"]["oracle"] > results["table1_voc"]["random"]


def test_evaluate_reward_with_a_lora_adapter(tiny_vlm_dir, tiny_dataset, tmp_path):
    """``adapter=`` scores through the LoRA-adapted model (here: random non-zero LoRA weights) and records it."""
    import torch

    from rabc.reward import TopRewardScorer
    from rabc.reward.lora import add_lora, save_adapter

    base = TopRewardScorer(str(tiny_vlm_dir))
    peft_model = add_lora(base.adapter.model, r=4, alpha=8)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)  # a zero B (peft's init) would leave the model unchanged
    digest = save_adapter(peft_model, tmp_path / "adapter")
    runs = {}
    for tag, extra in (("base", []), ("lora", [f"adapter={tmp_path / 'adapter'}"])):
        with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base=None):
            cfg = compose(
                "evaluate_reward",
                overrides=[f"model={tiny_vlm_dir}", f"datasets=[{tiny_dataset}]", f"out={tmp_path / tag}",
                           "scorers=[topreward]", "max_episodes=3", "static_check=false", "n_boot=50", *extra],
            )  # fmt: skip
        runs[tag] = evaluate_reward.run(cfg).results
    assert runs["lora"]["adapter_sha256"] == digest and runs["base"]["adapter"] is None
    assert "LoRA adapter" in (tmp_path / "lora" / "tables.md").read_text()
    curves = {t: pd.read_csv(tmp_path / t / "episodes.csv") for t in runs}
    assert len(curves["lora"]) == len(curves["base"]) == 3
    # success_score = mean raw log p(True) of the last 3 prefixes: the adapter changed the model's answers
    assert not np.allclose(curves["lora"]["success_score"], curves["base"]["success_score"])
