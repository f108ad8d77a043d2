"""Evaluate a checkpoint by rollouts on held-out seeds: ``python eval.py checkpoint=<run dir | policy dir | .ckpt>``.

The job: :mod:`rabc.app.eval` (``--help`` for the options).
"""

from omegaconf import DictConfig

from rabc.app import cli
from rabc.app import eval as app_eval


@cli.command("eval")
def main(cfg: DictConfig) -> None:
    print(app_eval.run(cfg).summary())


if __name__ == "__main__":
    app_eval.register_resolvers()  # ${eval_logs_dir:...} in configs/eval.yaml
    main()
