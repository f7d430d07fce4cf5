"""LocalBackend on a tiny real Llama with real LoRA adapters: mixed batches, LRU, micro-batching,
stop strings, streaming."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from tailorai.errors import ModelError, TailorError
from tailorai.generation.local_backend import GenerationRequest, LocalBackend
from tailorai.models import encode_chat
from tests.training.conftest import tiny_llama

ADAPTERS = ("segment-buyers@2", "segment-browsers@1", "user:u.1@3")
PROMPTS = [
    [{"role": "user", "content": "What color is the ball?"}],
    [{"role": "user", "content": "Tell me a story."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Where is the cat?"}],
]


def _adapter(base: Path, out: Path, seed: int, *, dora: bool = False) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    lora = LoraConfig(
        r=4,
        lora_alpha=16,
        target_modules=["q_proj", "v_proj", "up_proj", "down_proj"],
        init_lora_weights=False,  # random B, so the adapter changes the output
        use_dora=dora,
    )
    get_peft_model(LlamaForCausalLM.from_pretrained(base), lora).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory, tokenizer) -> dict[str, Path]:
    """A tiny Llama base and three LoRA adapters (and one DoRA) on it, each a different seed."""
    root = tmp_path_factory.mktemp("local-backend")
    paths = {"base": root / "base"}
    tiny_llama().save_pretrained(paths["base"])
    tokenizer.save_pretrained(paths["base"])
    for seed, key in enumerate(ADAPTERS, start=1):
        paths[key] = _adapter(paths["base"], root / f"adapter-{seed}", seed)
    paths["dora"] = _adapter(paths["base"], root / "adapter-dora", 9, dora=True)
    return paths


def _backend(models: dict[str, Path], **kwargs: Any) -> LocalBackend:
    backend = LocalBackend(str(models["base"]), **kwargs)
    for key in ADAPTERS:
        backend.add_adapter(key, models[key])
    return backend


@pytest.fixture(scope="module")
def backend(models):
    with _backend(models, batch_wait_ms=100) as backend:
        yield backend


def _request(index: int, adapter: str | None, **kwargs: Any) -> GenerationRequest:
    kwargs.setdefault("max_new_tokens", 8)
    return GenerationRequest(messages=PROMPTS[index % len(PROMPTS)], adapter=adapter, **kwargs)


def test_a_mixed_batch_gives_each_request_its_own_greedy_output(backend, models, tokenizer):
    requests = [_request(i, key) for i, key in enumerate([*ADAPTERS, None])]
    requests += [_request(0, key) for key in [*ADAPTERS, None]]  # one prompt, every model
    calls = backend.generate_calls
    batched = backend.generate(requests)
    assert backend.generate_calls == calls + 1
    alone = [backend.generate([request])[0] for request in requests]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in alone]
    assert [r.adapter for r in batched] == [r.adapter for r in requests]
    assert len({r.text for r in batched[4:]}) == 4  # the same prompt differs on every adapter

    # And the adapter is applied as PEFT applies it on its own (no adapter_names, no batching).
    from peft import PeftModel
    from transformers import LlamaForCausalLM

    peft = PeftModel.from_pretrained(
        LlamaForCausalLM.from_pretrained(models["base"]), str(models[ADAPTERS[1]])
    ).eval()
    ids = encode_chat(tokenizer, PROMPTS[0], add_generation_prompt=True).input_ids
    output = peft.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)
    assert tokenizer.decode(output[0, len(ids) :], skip_special_tokens=True) == batched[5].text


def test_the_base_alone_needs_no_adapter(models):
    backend = LocalBackend(str(models["base"]))
    result = backend.generate([_request(0, None), GenerationRequest(prompt="Once upon a")])
    assert all(r.text and r.adapter is None for r in result)
    assert backend.adapter_loads == 0 and backend.loaded_adapters == []


def test_least_recently_used_adapters_are_evicted_and_reloaded(models, backend):
    expected = {key: backend.generate([_request(0, key)])[0].text for key in ADAPTERS}
    small = _backend(models, max_adapters=2)
    for key in ADAPTERS:  # the third evicts the first
        assert small.generate([_request(0, key)])[0].text == expected[key]
    assert (small.adapter_loads, small.adapter_evictions) == (3, 1)
    assert small.loaded_adapters == list(ADAPTERS[1:])
    assert small.generate([_request(0, ADAPTERS[2])])[0].text == expected[ADAPTERS[2]]
    assert small.adapter_loads == 3  # still loaded: no reload
    assert small.generate([_request(0, ADAPTERS[0])])[0].text == expected[ADAPTERS[0]]
    assert (small.adapter_loads, small.adapter_evictions) == (4, 2)
    assert small.loaded_adapters == [ADAPTERS[2], ADAPTERS[0]]

    # A batch with more adapters than may be loaded at once runs in several calls, still right.
    calls = small.generate_calls
    results = small.generate([_request(0, key) for key in ADAPTERS])
    assert [r.text for r in results] == [expected[key] for key in ADAPTERS]
    assert small.generate_calls == calls + 2


def test_concurrent_callers_share_model_calls_and_get_their_own_results(backend):
    requests = [_request(i, [*ADAPTERS, None][i % 4], max_new_tokens=4 + i) for i in range(8)]
    expected = [backend.generate([r])[0] for r in requests]
    calls = backend.generate_calls
    barrier = threading.Barrier(len(requests))
    results: list[Any] = [None] * len(requests)

    def call(index: int) -> None:
        barrier.wait()
        results[index] = backend.generate_one(requests[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert backend.generate_calls - calls < len(requests)
    assert [r.text for r in results] == [r.text for r in expected]
    assert [r.completion_tokens for r in results] == [4 + i for i in range(8)]


def test_a_bad_request_fails_only_its_own_future(backend):
    good = backend.submit(_request(0, None))
    bad = backend.submit(_request(0, "nobody@1"))
    assert good.result().text
    with pytest.raises(ModelError, match="nobody@1"):
        bad.result()


def test_stop_strings_cut_the_text_and_tokens_are_counted(backend, tokenizer):
    free = backend.generate([_request(1, ADAPTERS[0], max_new_tokens=16)])[0]
    prompt_ids = encode_chat(tokenizer, PROMPTS[1], add_generation_prompt=True).input_ids
    assert (free.finish_reason, free.completion_tokens) == ("length", 16)
    assert free.prompt_tokens == len(prompt_ids)
    stop = free.text[len(free.text) // 3 :][:2]
    cut = backend.generate([_request(1, ADAPTERS[0], max_new_tokens=16, stop=["zzqq", stop])])[0]
    assert cut.text == free.text[: free.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens < 16  # generation stopped once the stop string appeared


def test_eos_ends_a_reply(models, tmp_path):
    from transformers import GenerationConfig, LlamaForCausalLM

    backend = LocalBackend(str(models["base"]))
    request = GenerationRequest(prompt="Once upon a time", max_new_tokens=12)
    ids = backend.tokenizer(request.prompt, add_special_tokens=False)["input_ids"]
    model = LlamaForCausalLM.from_pretrained(models["base"])
    output = model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)[0, len(ids) :]
    eos = int(output[3])
    first = output.tolist().index(eos)
    # The same model, but the token it produces fourth is its end-of-sequence token.
    model.generation_config = GenerationConfig(eos_token_id=eos)
    model.save_pretrained(tmp_path / "eos-model")
    backend.tokenizer.save_pretrained(tmp_path / "eos-model")
    result = LocalBackend(str(tmp_path / "eos-model")).generate([request])[0]
    assert result.finish_reason == "stop"
    assert result.completion_tokens == first + 1
    assert result.text == backend.tokenizer.decode(output[: first + 1], skip_special_tokens=True)


@pytest.mark.parametrize("stop", [[], ["zzqq"]])
def test_stream_pieces_join_to_the_generated_text(backend, stop):
    # The random model emits runs of byte tokens, whose decoding changes as the run grows.
    pieces = 0
    for adapter in [*ADAPTERS, None]:
        for index in range(len(PROMPTS)):
            request = _request(index, adapter, max_new_tokens=16, stop=stop)
            streamed = list(backend.stream(request))
            assert "".join(streamed) == backend.generate([request])[0].text
            pieces += len(streamed)
    assert pieces > 2 * len(PROMPTS) * 4  # pieces came as tokens were made, not all at the end


def test_stream_stops_at_a_stop_string(backend):
    text = backend.generate([_request(2, None, max_new_tokens=16)])[0].text
    stop = text[len(text) // 2 :][:2]
    request = _request(2, None, max_new_tokens=16, stop=[stop])
    assert "".join(backend.stream(request)) == text[: text.find(stop)]


def test_dora_adapters_run_beside_lora_ones(models, backend):
    backend.add_adapter("dora@1", models["dora"])
    requests = [_request(0, "dora@1"), _request(0, ADAPTERS[0]), _request(0, None)]
    batched = backend.generate(requests)
    assert [r.text for r in batched] == [backend.generate([r])[0].text for r in requests]
    assert batched[0].text != batched[2].text


def test_an_unknown_adapter_is_a_clear_error(backend):
    with pytest.raises(ModelError, match=r"Unknown adapter 'nobody@1'.*add_adapter"):
        backend.generate([_request(0, "nobody@1")])
    with pytest.raises(ModelError, match="nobody@1"):
        backend.stream(_request(0, "nobody@1"))
    with pytest.raises(ModelError, match=r"adapter_config\.json"):
        backend.add_adapter("empty@1", Path(__file__).parent)


def test_bad_requests_and_settings_are_tailorai_errors(models):
    with pytest.raises(TailorError, match="exactly one of"):
        GenerationRequest()
    with pytest.raises(TailorError, match="max_new_tokens"):
        GenerationRequest(prompt="Hi", max_new_tokens=0)
    with pytest.raises(TailorError, match="list of non-empty strings"):
        GenerationRequest(prompt="Hi", stop="\n")  # type: ignore[arg-type]
    with pytest.raises(TailorError, match="'max_adapters' parameter of LocalBackend"):
        LocalBackend(str(models["base"]), max_adapters=0)


def test_a_closed_backend_takes_no_more_requests(models):
    backend = LocalBackend(str(models["base"]))
    assert backend.generate_one(_request(0, None)).text
    backend.close()
    with pytest.raises(ModelError, match="closed"):
        backend.submit(_request(0, None))


def test_the_shipped_default_model_serves(tokenizer):
    backend = LocalBackend()  # stories260k.gguf, converted once by the project's loader
    result = backend.generate([GenerationRequest(prompt="Once upon a time", max_new_tokens=12)])[0]
    assert result.text.strip() and result.completion_tokens <= 12


def test_a_registry_version_registers_under_its_ref(models, backend):
    from tailorai.training.registry import ModelVersion

    def version(base: Path, method: str = "lora") -> ModelVersion:
        return ModelVersion(
            name="segment-buyers",
            version=7,
            ref="segment-buyers@7",
            scope="segment:buyers",
            method=method,
            stage="production",
            base_model=str(base),
            dataset_id=None,
            path=models[ADAPTERS[0]],
        )

    assert backend.add_version(version(models["base"])) == "segment-buyers@7"
    same = [_request(0, "segment-buyers@7"), _request(0, ADAPTERS[0])]
    first, second = backend.generate(same)
    assert first.text == second.text
    with pytest.raises(ModelError, match="was trained on"):
        backend.add_version(version(Path("some-org/another-base")))
    with pytest.raises(ModelError, match="full fine-tune"):
        backend.add_version(version(models["base"], method="full"))


def test_each_reply_says_how_sure_the_model_was(models, backend, tokenizer):
    from transformers import LlamaForCausalLM

    result = backend.generate([_request(1, None, max_new_tokens=6)])[0]
    ids = encode_chat(tokenizer, PROMPTS[1], add_generation_prompt=True).input_ids
    model = LlamaForCausalLM.from_pretrained(models["base"]).eval()
    with torch.no_grad():  # the same greedy reply, scored by a plain forward pass
        whole = model.generate(torch.tensor([ids]), max_new_tokens=6, do_sample=False)[0]
        reply = whole[len(ids) :]
        logits = model(whole[None]).logits[0, len(ids) - 1 : -1]
    expected = torch.log_softmax(logits, -1).gather(1, reply[:, None]).mean()
    assert len(reply) == result.completion_tokens == 6
    assert result.mean_logprob == pytest.approx(float(expected), abs=1e-4)
