"""Train a policy with per-sample weights: ``python train.py experiment=<name> [overrides]``.

Multirun sweeps: ``python train.py -m experiment=act_bc weighting=uniform,top_awr,sarm seed=0,1,2``.
Resume: ``python train.py ... hydra.run.dir=<run dir> ckpt_path=last``.
"""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from rabc.lit.config import register

register()


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from rabc.lit.run import train

    result = train(cfg, HydraConfig.get().runtime.output_dir)
    return result.get("val/loss_unweighted")


if __name__ == "__main__":
    main()
