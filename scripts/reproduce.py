"""Reproduce the paper's tables; ``--help`` lists the presets and options.

python scripts/reproduce.py table=4 size=smoke|medium|full|decisive|... [key=value ...]
python scripts/reproduce.py table=[1,2,3,5] reward.model=... reward.datasets=[...] reward.out=...
"""

from omegaconf import DictConfig

from rabc.app import cli, reproduce


@cli.command("reproduce")
def main(cfg: DictConfig) -> None:
    reproduce.run(cfg)


if __name__ == "__main__":
    reproduce.register_configs()
    main()
