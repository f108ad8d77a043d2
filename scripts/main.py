"""The main job: the whole pipeline at a small default size (``--help``; the job: :mod:`rabc.app.main`).

    python scripts/main.py [skip_scoring=true]

Ends with the one-sentence result of table4_main.json.
"""

from omegaconf import DictConfig

from rabc.app import cli
from rabc.app import main as main_app


@cli.command("main")
def main(cfg: DictConfig) -> None:
    print(main_app.run(cfg).summary())


if __name__ == "__main__":
    main()
