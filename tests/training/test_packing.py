from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tailorai.training.encode import IGNORE, Encoded, encode_chat
from tailorai.training.packing import PackedDataset, collate_packed, pack


def test_first_fit_decreasing_fills_rows_without_overflow():
    lengths = [300, 200, 200, 120, 100, 60, 20]
    rows = pack(lengths, 512)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 512 for row in rows)
    assert len(rows) == 2


def _tiny_model():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    return LlamaForCausalLM(config).eval()


def test_packed_examples_see_only_themselves(tokenizer):
    model = _tiny_model()
    a = encode_chat(
        tokenizer, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    )
    b = encode_chat(
        tokenizer,
        [{"role": "user", "content": "Where is it?"}, {"role": "assistant", "content": "At home."}],
    )
    batch = collate_packed([[a, b]])
    with torch.no_grad():
        packed = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            position_ids=batch["position_ids"],
        ).logits[0]
        alone_a = model(input_ids=torch.tensor([a.input_ids])).logits[0]
        alone_b = model(input_ids=torch.tensor([b.input_ids])).logits[0]
    assert torch.allclose(packed[: len(a)], alone_a, atol=1e-5)
    assert torch.allclose(packed[len(a) : len(a) + len(b)], alone_b, atol=1e-5)


def test_collate_resets_positions_masks_boundaries_and_padding():
    a = Encoded([1, 5, 6, 7], [IGNORE, IGNORE, 6, 7])
    b = Encoded([1, 8, 9], [IGNORE, 8, 9])
    c = Encoded([1, 4], [IGNORE, 4])
    batch = collate_packed([[a, b], [c]], pad_token_id=0)
    assert batch["input_ids"].shape == (2, 8)  # padded to a multiple of 8 only
    assert batch["position_ids"][0, :7].tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert batch["labels"][0, 4].item() == IGNORE  # b's first token is not predicted from a
    mask = batch["attention_mask"][0, 0]
    assert mask[5, 3] == float("-inf") and mask[5, 4] == 0 and mask[3, 0] == 0
    assert mask[1, 2] == float("-inf")  # causal
    assert torch.isfinite(batch["attention_mask"][1, 0].max(dim=-1).values).all()  # no empty row
    assert (batch["labels"][1, 2:] == IGNORE).all()


def test_dataset_counts_tokens_and_packs_fewer_rows():
    examples = [Encoded([1] * n, [IGNORE] * n) for n in (100, 200, 50, 300, 10)]
    packed = PackedDataset(examples, 512)
    unpacked = PackedDataset(examples, 512, packing=False)
    assert packed.tokens == unpacked.tokens == 660
    assert len(packed) == 2 and len(unpacked) == 5
