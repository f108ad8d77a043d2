"""The scorer-quality table: raw, corrected and calibrated progress vs the oracle (``--help``; job:
rabc.app.scorer_quality).

python scripts/scorer_quality.py model=DIR scorer.adapter=DIR calibration_root=DIR root=DIR out=DIR
"""

from omegaconf import DictConfig

from rabc.app import cli, scorer_quality


@cli.command("scorer_quality")
def main(cfg: DictConfig) -> None:
    print(scorer_quality.run(cfg).summary())


if __name__ == "__main__":
    main()
