"""The frame-wise mean of several progress parquets of one dataset: an ensemble of scorers (``--help``; job:
rabc.app.ensemble_progress).

python scripts/ensemble_progress.py inputs=[A.parquet,B.parquet,C.parquet] out=MEAN.parquet [dataset_root=DIR]
"""

from omegaconf import DictConfig

from rabc.app import cli, ensemble_progress


@cli.command("ensemble_progress")
def main(cfg: DictConfig) -> None:
    print(ensemble_progress.run(cfg).summary())


if __name__ == "__main__":
    main()
