"""Write a tiny random Qwen-VL for offline tests and CPU pipelines (``--help``; job: rabc.app.tiny_vlm).

python scripts/make_tiny_vlm.py out=DIR [size=tiny|mid] [family=qwen3_vl|qwen2_5_vl] [seed=0]
                                [max_position_embeddings=32768]
"""

from omegaconf import DictConfig

from rabc.app import cli, tiny_vlm


@cli.command("make_tiny_vlm")
def main(cfg: DictConfig) -> None:
    print(f"tiny VLM: {tiny_vlm.run(cfg).out}")


if __name__ == "__main__":
    main()
