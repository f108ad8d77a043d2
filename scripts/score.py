"""Label a LeRobot dataset with a progress scorer → ``progress.parquet`` (``--help``; job: rabc.app.score).

python scripts/score.py dataset.root=DIR scorer=topreward_tiny scorer.model=DIR out=PATH
python scripts/score.py dataset.root=DIR scorer=topreward_qwen3vl_8b out=PATH shard=0/4 resume=true
python scripts/score.py dataset.root=DIR scorer=oracle out=PATH          # or scorer=random
python scripts/score.py dataset.root=DIR scorer=... out=PATH merge_only=true
"""

from omegaconf import DictConfig

from rabc.app import cli, score


@cli.command("score")
def main(cfg: DictConfig) -> None:
    score.run(cfg)


if __name__ == "__main__":
    main()
