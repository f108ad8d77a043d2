"""Evaluate reward scorers with the TOPReward paper's metrics (Tables 1, 2, 3, 5); ``--help`` lists the options.

python scripts/evaluate_reward.py model=DIR_OR_ID datasets=[ROOT,...] out=DIR [scorers=[...]] [max_episodes=20]
"""

from omegaconf import DictConfig

from rabc.app import cli, evaluate_reward


@cli.command("evaluate_reward")
def main(cfg: DictConfig) -> None:
    evaluate_reward.run(cfg)


if __name__ == "__main__":
    main()
