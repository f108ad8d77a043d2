"""Generate the mixed-quality Meta-World demo dataset and its oracle progress (``--help``; job: rabc.app.dataset).

python scripts/make_dataset.py                                   # configs/dataset/default.yaml (CI size)
python scripts/make_dataset.py dataset/mix=adverse dataset.root=data/adverse dataset.overwrite=true
python scripts/make_dataset.py dataset=full                      # 50 demos per task
"""

from omegaconf import DictConfig

from rabc.app import cli, dataset


@cli.command("make_dataset")
def main(cfg: DictConfig) -> None:
    print(dataset.run(cfg).summary())


if __name__ == "__main__":
    main()
