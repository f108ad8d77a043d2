"""Per-frame weights from a progress parquet → ``weights.parquet`` (+ diagnostics, histogram) (``--help``).

    python scripts/compute_weights.py progress=PATH weighting=top_awr out=PATH [fps=...] [dataset_root=DIR]

Any key of the ``weighting`` file can be overridden, e.g. ``weighting.temperature=std/3 weighting.horizon_s=1.5``.
The job: :mod:`rabc.app.weights` (the same ``make_weights`` as training).
"""

from omegaconf import DictConfig

from rabc.app import cli, weights


@cli.command("compute_weights")
def main(cfg: DictConfig) -> None:
    print(weights.run(cfg).summary())


if __name__ == "__main__":
    main()
