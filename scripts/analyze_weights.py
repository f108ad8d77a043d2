"""Where do a weighting scheme's weights land on a generated dataset? (``--help``; job: rabc.app.analyze_weights)

python scripts/analyze_weights.py [root=data/reproduce_medium] [progress=<parquet>] [out=runs/weight_analysis]
    [horizons=[0.125,0.25,0.5,1,2]] [temperatures=[std/3,std,1]] [schemes=[top_awr_tempered,filtered]]
    [directions=[backward,forward]]
"""

from omegaconf import DictConfig

from rabc.app import analyze_weights, cli


@cli.command("analyze_weights")
def main(cfg: DictConfig) -> None:
    print(f"weight analysis: {analyze_weights.run(cfg).out / 'weight_analysis.md'}")


if __name__ == "__main__":
    main()
