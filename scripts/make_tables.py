"""Tabulate finished runs: ``python scripts/make_tables.py runs=<dir or glob> out=<dir>`` (``--help``).

Reads only ``eval_*.json`` (+ each run's ``run.json`` and ``weights_diagnostics.json``); writes
``<out>/table4_<preset>.md``, ``.json`` and ``.png`` (rabc.report.make_report). The job: :mod:`rabc.app.tables`.
"""

from omegaconf import DictConfig

from rabc.app import cli, tables


@cli.command("make_tables")
def main(cfg: DictConfig) -> None:
    print(tables.run(cfg).summary())


if __name__ == "__main__":
    main()
