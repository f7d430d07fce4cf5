"""The LoRA bank: a batch mixing adapters gives each row what PEFT gives it alone."""

from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaForCausalLM

from tailorai.generation.lora_bank import LoraBank
from tests.training.conftest import tiny_llama


def _save_adapter(base, folder, seed, **options):
    torch.manual_seed(seed)
    config = LoraConfig(
        r=options.pop("r", 4),
        lora_alpha=16,
        target_modules=options.pop("targets", ["q_proj", "v_proj", "down_proj"]),
        init_lora_weights=False,
        **options,
    )
    get_peft_model(LlamaForCausalLM.from_pretrained(base), config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bank") / "base"
    tiny_llama().save_pretrained(folder)
    return folder


def _config(folder):
    return json.loads((folder / "adapter_config.json").read_text())


def _peft_logits(base, adapter, ids):
    model = PeftModel.from_pretrained(LlamaForCausalLM.from_pretrained(base), str(adapter))
    with torch.no_grad():
        return model.eval()(ids).logits


def test_mixed_rows_match_peft_alone_whatever_the_ranks_and_scaling(base, tmp_path):
    adapters = [
        _save_adapter(base, tmp_path / "a", 1),
        _save_adapter(base, tmp_path / "b", 2, r=8, use_rslora=True),
        _save_adapter(base, tmp_path / "c", 3, targets=["k_proj", "o_proj", "gate_proj"]),
    ]
    model = LlamaForCausalLM.from_pretrained(base).eval()
    bank = LoraBank(model, slots=2)  # too small: it must grow
    for name, folder in zip("abc", adapters, strict=True):
        assert LoraBank.supports(folder, _config(folder))
        bank.load(name, folder)
    ids = torch.randint(3, 500, (5, 7))
    with torch.no_grad():
        plain = model(ids).logits
        with bank.use(["a", None, "b", "c", "a"]):
            mixed = model(ids).logits
        with bank.use(["b"] * 5):
            same = model(ids).logits
        after = model(ids).logits  # outside `use`: the plain base again
    for row, folder in ((0, adapters[0]), (2, adapters[1]), (3, adapters[2]), (4, adapters[0])):
        expected = _peft_logits(base, folder, ids[row : row + 1])[0]
        assert torch.allclose(mixed[row], expected, atol=1e-5)
        assert not torch.allclose(mixed[row], plain[row], atol=1e-3)
    assert torch.allclose(mixed[1], plain[1], atol=1e-6)
    assert torch.allclose(same, _peft_logits(base, adapters[1], ids), atol=1e-5)
    assert torch.equal(after, plain)

    bank.unload("a")  # its slot is cleared and reused
    bank.load("d", adapters[2])
    with torch.no_grad(), bank.use(["d"]):
        assert torch.allclose(model(ids[:1]).logits, _peft_logits(base, adapters[2], ids[:1]))


def test_variants_the_bank_cannot_serve_are_left_to_peft(base, tmp_path):
    dora = _save_adapter(base, tmp_path / "dora", 4, use_dora=True)
    assert not LoraBank.supports(dora, _config(dora))
    saved = _save_adapter(base, tmp_path / "saved", 5, modules_to_save=["lm_head"])
    assert not LoraBank.supports(saved, _config(saved))
