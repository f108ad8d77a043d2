"""A tiny, randomly initialised Qwen3-VL saved in the standard ``save_pretrained`` layout.

It exists so that tests, CI and the default (CPU) pipeline exercise the *real* transformers code paths —
``Qwen3VLForConditionalGeneration``, ``Qwen3VLProcessor`` with its video processor, a byte-level BPE
``Qwen2Tokenizer`` with Qwen's special tokens and a chat template — without downloading anything.

**Its scores carry no meaning until trained**: the weights are random, so its log p(" True") is noise that
happens to be deterministic for a given seed. Use it to test plumbing, numerics (cached vs naive sweeps) and
parity with lerobot, never to judge reward quality.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from rabc.reward.prompts import DEFAULT_PROMPT_PREFIX, DEFAULT_PROMPT_SUFFIX_TEMPLATE

logger = logging.getLogger(__name__)

#: Qwen2/Qwen3 special tokens, in Qwen's own order (ids follow the trained vocabulary).
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

#: Qwen3-VL-Instruct's rendering for plain user/assistant turns with image/video items (no default system turn).
QWEN_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' or 'image' in item -%}{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'video' or 'video' in item -%}{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif 'text' in item -%}{{- item['text'] -}}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

#: Model sizes. "tiny" is the test model (~260 k parameters, a forward in ~10-16 ms on CPU); "mid" is a
#: larger random model for benchmarks, where the vision tower and LM cost dominate Python overhead.
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "text": dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=2,
                     num_key_value_heads=1, head_dim=24, mrope_section=[4, 4, 4]),
        "vision": dict(depth=2, hidden_size=48, intermediate_size=96, num_heads=2, num_position_embeddings=64,
                       deepstack_visual_indexes=[0]),
    },
    "mid": {
        "text": dict(hidden_size=384, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6,
                     num_key_value_heads=2, head_dim=64, mrope_section=[12, 10, 10]),
        "vision": dict(depth=6, hidden_size=256, intermediate_size=768, num_heads=4, num_position_embeddings=256,
                       deepstack_visual_indexes=[1, 3]),
    },
}  # fmt: skip


def _training_corpus() -> list[str]:
    """Text the tokenizer is trained on: the TOPReward prompt, timestamps, answers, robot-task words."""
    tasks = [
        "pick up the red block", "push the puck to the goal", "open the drawer", "close the door",
        "reach the target", "press the button", "insert the peg", "stack the cubes", "pour the water",
        "wipe the table", "put the cup on the plate", "turn the faucet", "lift the lid", "slide the window",
    ]  # fmt: skip
    lines = []
    for i, task in enumerate(tasks):
        suffix = DEFAULT_PROMPT_SUFFIX_TEMPLATE.format(instruction=task)
        lines += [DEFAULT_PROMPT_PREFIX + suffix, suffix.replace(" True", " False"), f"{task}. True False"]
        lines += [f"<{t / 10:.1f} seconds>" for t in range(i * 40, (i + 1) * 40)]
    lines += ["True", "False", " True", " False", "user", "assistant", "system", "\n"] * 50
    return lines * 4


def _train_tokenizer(vocab_size: int):
    """Byte-level BPE with exactly Qwen2's normaliser / pre-tokeniser pipeline, wrapped as ``Qwen2Tokenizer``."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
    from tokenizers.models import BPE
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(BPE(unk_token=None, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=QWEN_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_corpus(), trainer=trainer)
    state = json.loads(tok.to_str())["model"]
    vocab = state["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=QWEN_SPECIAL_TOKENS[1:],
        model_max_length=32768,
    )
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    for word in (" True", " False", "True", "False"):
        ids = tokenizer.encode(word, add_special_tokens=False)
        if len(ids) != 1:
            raise RuntimeError(
                f"tiny tokenizer splits {word!r} into {len(ids)} tokens; the corpus must fix that"
            )
    return tokenizer


def make_tiny_vlm(
    out_dir: str | Path,
    *,
    size: str = "tiny",
    family: str = "qwen3_vl",
    seed: int = 0,
    vocab_size: int = 640,
    max_position_embeddings: int = 32768,
    shortest_edge: int | None = None,
    longest_edge: int | None = None,
    chat_template: str | None = None,
) -> Path:
    """Write a random Qwen-VL (model, tokenizer, processor) to ``out_dir`` and return the path.

    family: "qwen3_vl" (default) or "qwen2_5_vl". ``AutoModelForImageTextToText.from_pretrained(out_dir)`` and
    ``AutoProcessor.from_pretrained(out_dir)`` load it. ``shortest_edge`` / ``longest_edge`` are the video
    processor's min / max pixels (Qwen3-VL: total over a clip; Qwen2.5-VL: per frame). The defaults keep small
    frames (multiples of 32 px, resp. 28 px) at their own size instead of Qwen's default of upscaling anything
    below 128·32·32 pixels. ``chat_template``: the Jinja chat template to ship (e.g. the published template of
    the family's Instruct model); default :data:`QWEN_CHAT_TEMPLATE`. Scores mean nothing (random weights).
    """
    from transformers import Qwen2VLImageProcessor

    if size not in SIZES:
        raise ValueError(f"unknown tiny VLM size {size!r}; choose one of {sorted(SIZES)}")
    if family not in ("qwen3_vl", "qwen2_5_vl"):
        raise ValueError(f"unknown tiny VLM family {family!r}; choose qwen3_vl or qwen2_5_vl")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(vocab_size)
    template = chat_template or QWEN_CHAT_TEMPLATE
    tokenizer.chat_template = template
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}

    spec = SIZES[size]
    text = dict(spec["text"])
    mrope_section = text.pop("mrope_section")
    vision = dict(spec["vision"])
    token_ids = dict(
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    text_config = dict(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": 5_000_000.0, "mrope_section": mrope_section},
        pad_token_id=ids["<|endoftext|>"],
        **text,
    )
    if family == "qwen3_vl":
        from transformers import Qwen3VLConfig as Config
        from transformers import Qwen3VLForConditionalGeneration as Model
        from transformers import Qwen3VLProcessor as Processor
        from transformers import Qwen3VLVideoProcessor as VideoProcessor

        patch = 16
        text_config["rope_parameters"]["mrope_interleaved"] = True
        vision_config = dict(out_hidden_size=text["hidden_size"], patch_size=patch, **vision)
        vsize = {
            "shortest_edge": shortest_edge or 2 * 32 * 32,
            "longest_edge": longest_edge or 1024 * 64 * 64,
        }
    else:
        from transformers import Qwen2_5_VLConfig as Config
        from transformers import Qwen2_5_VLForConditionalGeneration as Model
        from transformers import Qwen2_5_VLProcessor as Processor
        from transformers import Qwen2VLVideoProcessor as VideoProcessor

        patch = 14
        text_config.pop("head_dim")  # Qwen2.5-VL derives it from hidden_size / heads
        vision.pop("num_position_embeddings"), vision.pop("deepstack_visual_indexes")
        vision_config = dict(out_hidden_size=text["hidden_size"], patch_size=patch, window_size=56,
                             fullatt_block_indexes=[vision["depth"] - 1], tokens_per_second=2, **vision)  # fmt: skip
        vsize = {"shortest_edge": shortest_edge or 28 * 28, "longest_edge": longest_edge or 1024 * 28 * 28}
    vision_config.update(spatial_merge_size=2, temporal_patch_size=2)
    config = Config(text_config=text_config, vision_config=vision_config, **token_ids)
    config.text_config.bos_token_id = None
    config.text_config.eos_token_id = ids["<|im_end|>"]
    torch.manual_seed(seed)
    model = Model(config).eval()
    model.save_pretrained(out)

    kw = dict(size=vsize, patch_size=patch, merge_size=2, temporal_patch_size=2)
    processor = Processor(
        image_processor=Qwen2VLImageProcessor(**kw),
        tokenizer=tokenizer,
        video_processor=VideoProcessor(**kw),
        chat_template=template,
    )
    processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info(
        "wrote random %s (%s, %d parameters, vocab %d) to %s", family, size, n_params, len(tokenizer), out
    )
    return out
