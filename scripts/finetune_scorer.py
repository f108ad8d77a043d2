"""LoRA-adapt a TOPReward scorer on labelled in-domain episodes (``--help``; job: rabc.app.finetune_scorer).

python scripts/finetune_scorer.py model=outputs/tiny_vlm dataset.root=data/metaworld_mixed out=outputs/lora
python scripts/finetune_scorer.py ... objective=bce stage.steps=500 stage.lora_vision=true
"""

from omegaconf import DictConfig

from rabc.app import cli, finetune_scorer


@cli.command("finetune_scorer")
def main(cfg: DictConfig) -> None:
    print(finetune_scorer.run(cfg).summary())


if __name__ == "__main__":
    main()
