from __future__ import annotations

import torch

from tailorai.models import IGNORE, Encoded, encode_chat
from tailorai.training.attention import PACKED, packed_attention
from tailorai.training.packing import PackedDataset, collate_packed, pack
from tests.training.conftest import tiny_llama


def test_first_fit_decreasing_fills_rows_without_overflow():
    lengths = [300, 200, 200, 120, 100, 60, 20]
    rows = pack(lengths, 512)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 512 for row in rows)
    assert len(rows) == 2


def _two_examples(tokenizer):
    a = encode_chat(
        tokenizer, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    )
    b = encode_chat(
        tokenizer,
        [{"role": "user", "content": "Where is it?"}, {"role": "assistant", "content": "At home."}],
    )
    return a, b


def test_flat_packed_examples_see_only_themselves(tokenizer):
    model = tiny_llama().eval()
    a, b = _two_examples(tokenizer)
    c = Encoded(a.input_ids[:5], a.labels[:5])
    batch = collate_packed([[a, b], [c]])
    assert batch["input_ids"].shape == (1, len(a) + len(b) + len(c))  # no padding at all
    assert batch["cu_seq_lens_q"].tolist() == [0, len(a), len(a) + len(b), len(a) + len(b) + 5]
    with torch.no_grad():
        alone = [model(input_ids=torch.tensor([e.input_ids])).logits[0] for e in (a, b, c)]
        with packed_attention(model) as switched:
            assert switched and model.config._attn_implementation == PACKED
            packed = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[0]
    assert model.config._attn_implementation == "sdpa"  # restored for saving and generation
    assert torch.allclose(packed[: len(a)], alone[0], atol=1e-5)
    assert torch.allclose(packed[len(a) : len(a) + len(b)], alone[1], atol=1e-5)
    assert torch.allclose(packed[len(a) + len(b) :], alone[2], atol=1e-5)


def test_flat_batch_trains_like_separate_examples(tokenizer):
    """The loss of a flat packed batch equals the token-weighted loss of its examples alone."""
    model = tiny_llama().eval()
    a, b = _two_examples(tokenizer)
    batch = collate_packed([[a], [b]])
    with torch.no_grad(), packed_attention(model):
        packed_loss = model(**batch).loss
    total, count = 0.0, 0
    with torch.no_grad():
        for e in (a, b):
            labels = torch.tensor([e.labels])
            n = int((labels[0, 1:] != IGNORE).sum())
            total += float(model(input_ids=torch.tensor([e.input_ids]), labels=labels).loss) * n
            count += n
    assert abs(float(packed_loss) - total / count) < 1e-5


def test_masked_packed_examples_see_only_themselves(tokenizer):
    model = tiny_llama().eval()
    a, b = _two_examples(tokenizer)
    batch = collate_packed([[a, b]], flat=False)
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
    batch = collate_packed([[a, b], [c]], flat=False, pad_token_id=0)
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


def test_the_loss_from_logits_at_labels_only_is_the_models_own(tokenizer):
    """`LogitsAtLabels` projects onto the vocabulary only before learned tokens: the loss and
    the gradients are the model's own, flat or masked, mean or summed over a counted batch."""
    from tailorai.training.trainer import LogitsAtLabels

    class Own:
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return model(**inputs).loss

    class AtLabels(LogitsAtLabels, Own):
        pass

    a, b = _two_examples(tokenizer)
    for flat in (True, False):
        batch = collate_packed([[a], [b]], flat=flat)
        grads = []
        for trainer in (Own(), AtLabels()):
            model = tiny_llama()
            with packed_attention(model, enabled=flat):
                loss = trainer.compute_loss(model, dict(batch))
                loss.backward()
            grad = model.model.layers[0].mlp.up_proj.weight.grad.clone()
            grads.append((float(loss.detach()), grad))
        (own, own_grad), (at_labels, at_labels_grad) = grads
        assert abs(own - at_labels) < 1e-5
        assert torch.allclose(own_grad, at_labels_grad, atol=1e-6)
    learned = int((batch["labels"][:, 1:] != IGNORE).sum())
    summed = AtLabels().compute_loss(tiny_llama(), dict(batch), num_items_in_batch=2 * learned)
    assert abs(float(summed) - own / 2) < 1e-5
