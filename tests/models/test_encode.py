from __future__ import annotations

from tailorai.models import IGNORE, encode_chat
from tailorai.training import render_chat

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where is my order?"},
    {"role": "assistant", "content": "It ships today."},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "You're welcome."},
]


def _learned_text(tokenizer, encoded) -> str:
    return tokenizer.decode(
        [t for t, label in zip(encoded.input_ids, encoded.labels, strict=True) if label != IGNORE]
    )


def test_loss_mask_covers_assistant_turns_and_their_end_of_turn_token(tokenizer):
    encoded = encode_chat(tokenizer, CHAT)
    learned = [
        t for t, label in zip(encoded.input_ids, encoded.labels, strict=True) if label != IGNORE
    ]
    text = _learned_text(tokenizer, encoded)
    assert "It ships today." in text and "You're welcome." in text
    assert "Where is my order" not in text and "Be brief" not in text and "user" not in text
    # The end-of-turn token (EOS in the default template) is learned once per assistant turn.
    assert learned.count(tokenizer.eos_token_id) == 2
    assert encoded.input_ids.count(tokenizer.eos_token_id) == 5  # every turn ends with it
    assert encoded.labels[0] == IGNORE and encoded.input_ids[0] == tokenizer.bos_token_id


def test_generation_prompt_is_exactly_the_training_prefix(tokenizer):
    full = encode_chat(tokenizer, CHAT[:3])
    prompt = encode_chat(tokenizer, CHAT[:2], add_generation_prompt=True)
    assert full.input_ids[: len(prompt.input_ids)] == prompt.input_ids
    first_learned = full.labels.index(next(label for label in full.labels if label != IGNORE))
    assert first_learned == len(prompt.input_ids)  # learning starts where generation starts


def test_rendering_uses_the_default_template_for_models_without_one(tokenizer):
    text = render_chat(tokenizer, CHAT[1:3])
    assert text == (
        "<|im_start|>user\nWhere is my order?</s>\n<|im_start|>assistant\nIt ships today.</s>\n"
    )
