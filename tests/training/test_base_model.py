from __future__ import annotations

import re

import pytest

from tailorai.errors import ModelError
from tailorai.settings import DEFAULT_BASE_MODEL
from tailorai.training import load_base_model, load_tokenizer, resolve_model_path
from tests.conftest import SAMPLES

REFERENCE = SAMPLES.parent / "models" / "stories260K.md"


def _reference_story() -> str:
    """The golden greedy sample from stories260K.md, as printed by llama2.c's run."""
    block = re.search(r"-t 0\.0\n(.*?)```", REFERENCE.read_text(), re.S)
    assert block, "stories260K.md no longer holds the greedy reference sample"
    return block.group(1)


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return load_base_model()


def test_shipped_model_greedy_generates_the_reference_story(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    prompt = tokenizer("Once upon a time", return_tensors="pt")
    output = model.generate(**prompt, max_new_tokens=200, do_sample=False)
    text = tokenizer.decode(output[0], skip_special_tokens=True)
    reference = _reference_story()
    assert text.startswith("Once upon a time, there was a little girl named Lily.")
    # Compare on the first two lines of the reference: 200 tokens reach past them.
    expected = "\n".join(reference.splitlines()[:2])
    assert text[: len(expected)] == expected


def test_gguf_is_converted_once_to_a_plain_trainable_folder(model_and_tokenizer):
    model, _ = model_and_tokenizer
    assert not getattr(model, "is_quantized", False)
    assert sum(p.numel() for p in model.parameters()) == 292_800
    folder = resolve_model_path(DEFAULT_BASE_MODEL)
    assert folder and resolve_model_path(DEFAULT_BASE_MODEL) == folder
    # A folder path loads the same model.
    again, _ = load_base_model(folder)
    assert again.config.hidden_size == 64


def test_tokenizer_loads_alone():
    tokenizer = load_tokenizer()
    assert tokenizer.vocab_size == 512


def test_missing_gguf_file_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_base_model(tmp_path / "nope.gguf")


def test_a_folder_without_config_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not a model folder"):
        load_tokenizer(tmp_path)


def test_unknown_hub_id_offline_is_a_model_error():
    with pytest.raises(ModelError, match="Could not load model"):
        load_tokenizer("no-such-org/no-such-model-xyz")


def test_context_length_of_the_shipped_model():
    from tailorai.training import context_length

    assert context_length() == 512
