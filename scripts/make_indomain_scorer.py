"""In-domain tiny TOPReward scorer: full training on sim videos, then LoRA (``--help``; job: rabc.app.indomain_scorer).

python scripts/make_indomain_scorer.py out=outputs/indomain_scorer
python scripts/make_indomain_scorer.py out=... dataset.root=data/metaworld_mixed   # reuse a generated dataset
python scripts/make_indomain_scorer.py out=... model.size=mid full.steps=3000        # larger
"""

import hydra
from omegaconf import DictConfig

from rabc.app import cli, indomain_scorer


@hydra.main(version_base="1.3", config_path=str(cli.CONFIGS), config_name="indomain_scorer")
def main(cfg: DictConfig) -> None:
    with cli.user_errors():
        print(indomain_scorer.run(cfg).summary())


if __name__ == "__main__":
    main()
