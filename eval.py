"""Evaluate a checkpoint by rollouts on held-out seeds: ``python eval.py checkpoint=<run dir | policy dir | .ckpt>``."""

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf


def _logs_dir(checkpoint: str) -> str:
    """Hydra's log directory: ``<run dir>/eval_logs`` (for a ``.ckpt``, the run directory above ``checkpoints/``)."""
    path = Path(checkpoint)
    if path.suffix == ".ckpt":
        path = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    return str(path / "eval_logs")


OmegaConf.register_new_resolver("eval_logs_dir", _logs_dir, replace=True)


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    from rabc.lit.evaluate import evaluate

    kw = OmegaConf.to_container(cfg, resolve=True)
    report = evaluate(kw.pop("checkpoint"), **kw)
    overall = report["overall"]
    print(
        f"success {overall['successes']}/{overall['episodes']} = {overall['rate']:.3f} "
        f"(95% CI {overall['ci95'][0]:.3f}-{overall['ci95'][1]:.3f})"
    )


if __name__ == "__main__":
    main()
