"""Write a tiny random Qwen3-VL (model + tokenizer + processor) for offline tests and CPU pipelines.

    python scripts/make_tiny_vlm.py out=DIR [size=tiny|mid] [family=qwen3_vl|qwen2_5_vl] [seed=0]
                                    [max_position_embeddings=32768]

The result loads with ``from_pretrained(DIR)`` (model and processor). Its scores carry no meaning until it is
trained: the weights are random.
"""

from __future__ import annotations

import argparse
import logging

from rabc.reward.tiny import make_tiny_vlm

INT_KEYS = ("seed", "vocab_size", "max_position_embeddings", "shortest_edge", "longest_edge")


def parse(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overrides", nargs="+", metavar="key=value", help="out=DIR is required")
    args = parser.parse_args(argv)
    opts: dict = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in ("out", "size", "family", *INT_KEYS):
            parser.error(
                f"expected key=value with key in out, size, family, {', '.join(INT_KEYS)}; got {item!r}"
            )
        opts[key] = int(value) if key in INT_KEYS else value
    if "out" not in opts:
        parser.error("out=DIR is required")
    return opts


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    opts = parse(argv)
    make_tiny_vlm(opts.pop("out"), **opts)


if __name__ == "__main__":
    main()
