"""Fit a per-task progress calibration and apply it to a progress parquet (``--help``; job: rabc.app.calibrate).

python scripts/calibrate.py fit.progress=P fit.root=D apply.progress=P2 apply.root=D2 out=P3
python scripts/calibrate.py calibration=cal.json apply.progress=P2 apply.root=D2 out=P3
"""

from omegaconf import DictConfig

from rabc.app import calibrate, cli


@cli.command("calibrate")
def main(cfg: DictConfig) -> None:
    print(calibrate.run(cfg).summary())


if __name__ == "__main__":
    main()
