"""TOPReward prompt text (PAPER.md §1), identical to the authors' code and lerobot 0.6.1's port."""

from __future__ import annotations

DEFAULT_PROMPT_PREFIX = (
    "The above video shows a robot manipulation trajectory that completes the following task: "
)
DEFAULT_PROMPT_SUFFIX_TEMPLATE = (
    "{instruction} Decide whether the above statement is True or not. The answer is: True"
)
#: The answer word whose log-probability is the reward; the last input token of every prompt.
ANSWER = "True"
#: The contrasting answer, scored at the same position for diagnostics (never part of the reward).
NEGATIVE_ANSWER = "False"


def validate_instruction(instruction: object) -> str:
    """Return the task string unchanged (it is used verbatim), or raise if it is missing or empty."""
    if instruction is None:
        raise ValueError("TOPReward needs the episode's task string; got None (missing 'task')")
    if not isinstance(instruction, str):
        raise ValueError(f"TOPReward task must be a string, got {type(instruction).__name__}")
    if not instruction.strip():
        raise ValueError("TOPReward task string is empty")
    return instruction


def build_prompt_text(
    processor,
    instruction: str,
    *,
    chat_template: bool = False,
    prefix: str = DEFAULT_PROMPT_PREFIX,
    suffix_template: str = DEFAULT_PROMPT_SUFFIX_TEMPLATE,
) -> str:
    """The prompt string with one ``<|vision_start|><|video_pad|><|vision_end|>`` video slot, ending in "True".

    Default (PAPER.md §1, steps 1-4): user turn [video, prefix] rendered with add_generation_prompt=False, cut
    at the EOS that closes that turn (drops ``<|im_end|>``, the user turn stays open), then
    ``{instruction} Decide ... True``. The cut is at the first EOS *after the video slot*: templates that open
    with a default system turn (Qwen2.5-VL's "You are a helpful assistant.") keep it, as the model saw in
    training; for templates without one (Qwen3-VL) this is the first EOS, as in lerobot 0.6.1.
    ``chat_template=True`` (Table 5 ablation): prefix + instruction + "... The answer is:" inside the user turn,
    add_generation_prompt=True, then "True" with no space after the assistant header.
    """
    suffix = suffix_template.format(instruction=instruction)
    if not suffix.endswith(ANSWER):
        raise ValueError(f"prompt suffix must end with {ANSWER!r}, got {suffix!r}")
    if chat_template:
        question = suffix.removesuffix(ANSWER).rstrip()
        messages = [
            {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prefix + question}]}
        ]
        head = _render(processor, messages, add_generation_prompt=True)
        return f"{head}{ANSWER}"
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prefix}]}]
    head = _render(processor, messages, add_generation_prompt=False)
    eos = processor.tokenizer.eos_token
    if eos:
        end = head.find(eos, head.index(processor.video_token))
        head = head if end < 0 else head[:end]
    return f"{head}{suffix}"


def _render(processor, messages: list[dict], *, add_generation_prompt: bool) -> str:
    """The processor's chat template applied to ``messages``; raises unless it holds exactly one video token."""
    head = processor.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    slot = processor.video_token  # "<|video_pad|>" between <|vision_start|> and <|vision_end|>
    if head.count(slot) != 1:
        raise ValueError(
            f"the chat template rendered {head.count(slot)} video tokens {slot!r} for one video item: {head!r}"
        )
    return head
