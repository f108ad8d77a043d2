"""Train a policy with per-sample weights: ``python train.py experiment=<name> [overrides]`` (``--help``).

Multirun sweeps: ``python train.py -m experiment=act_bc weighting=uniform,top_awr,sarm seed=0,1,2``.
Resume: ``python train.py ... hydra.run.dir=<run dir> ckpt_path=last``. The job: :mod:`rabc.app.train`.
"""

from omegaconf import DictConfig

from rabc.app import cli, train
from rabc.lit.config import register


@cli.command("train")
def main(cfg: DictConfig) -> float | None:
    return train.run(cfg).metrics.get("val/loss_unweighted")  # the value a sweeper would minimise


if __name__ == "__main__":
    register()  # the structured schema of configs/train.yaml
    main()
