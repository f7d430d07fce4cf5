"""The local generation back end: one base model in this process, many adapters on it.

Personalized serving asks for many small LoRA adapters (one per segment or user) on the same
base. Loading a model per adapter would multiply memory, and swapping adapters per request would
serialize everything, so `LocalBackend` loads the base once, loads adapters lazily (the
`max_adapters` most recently used stay loaded) and runs requests for different adapters in ONE
batched `generate` call, each row on its own adapter. Plain LoRA adapters live in a `LoraBank`
(stacked per layer, one batched matmul per layer whatever the mix); other variants load into
one PEFT model and share batches through PEFT's `adapter_names` (`"__base__"` for the plain
base). Greedy rows come out exactly as they would alone.

    backend = LocalBackend()                       # the shipped stories260k
    backend.add_adapter("segment-buyers@2", path)  # or add_version(registry.get(...))
    backend.generate([GenerationRequest(messages=[{"role": "user", "content": "Hi"}],
                                        adapter="segment-buyers@2")])
    backend.generate_one(request)                  # micro-batched with concurrent callers
    for piece in backend.stream(request): ...

DoRA adapters cannot share a batch through `adapter_names` (PEFT refuses), so the requests for
one DoRA adapter run as a batch of their own with that adapter made active. Every use of the
model, the tokenizer included, holds one lock: a model must not run two `generate` calls at once.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailorai.errors import ConfigError, DataError, ModelError
from tailorai.generation.decoding import ReplyNoRepeatNGram, ReplyRepetitionPenalty
from tailorai.generation.lora_bank import LoraBank
from tailorai.generation.micro_batch import MicroBatcher
from tailorai.models import (
    config_context_length,
    encode_chat,
    load_base_model,
    resolve_model_path,
    same_base,
)
from tailorai.records import (
    FinishReason,
    GenerationRequest,
    GenerationResult,
    TextStream,
)

__all__ = ["GenerationRequest", "GenerationResult", "LocalBackend"]

BASE = "__base__"  # PEFT's name for "no adapter" in `adapter_names`
_BYTE_TOKEN = re.compile(r"<0x[0-9A-Fa-f]{2}>")


@dataclass(slots=True)
class _Adapter:
    key: str
    path: Path
    name: str  # its name inside the PEFT model: keys such as "user:a.b@1" are not valid there
    dora: bool
    chat_template: str | None
    banked: bool = False  # served from the LoraBank (plain LoRA), else by PEFT


@dataclass(slots=True)
class _Prepared:
    """A request validated and encoded, ready to join a batch."""

    request: GenerationRequest
    ids: list[int]
    limit: int  # new tokens it may have: max_new_tokens, less where the context ends first
    adapter: _Adapter | None


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


class _RowEnds:
    """Stopping criteria that end each row on its own: EOS, a stop string or its token limit.

    Rows of one batch differ in stop strings and limits; a row marked done here is padded by
    `generate` while the others go on. Remembering the step each row ended at (rather than
    looking for padding afterwards) stays right when the pad token is also EOS.
    Duck-typed like transformers' `StoppingCriteria`, so this module imports no torch.
    """

    def __init__(
        self,
        tokenizer: Any,
        width: int,
        rows: Sequence[_Prepared],
        eos: set[int],
        cancel: threading.Event | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.width = width
        self.limits = [p.limit for p in rows]
        self.stops = [list(p.request.stop) for p in rows]
        self.eos = eos
        self.cancel = cancel
        self.ended: list[tuple[int, FinishReason] | None] = [None] * len(rows)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        step = input_ids.shape[1] - self.width
        for row, ended in enumerate(self.ended):
            if ended is not None:
                continue
            if int(input_ids[row, -1]) in self.eos or self._stopped(row, input_ids[row]):
                self.ended[row] = (step, "stop")
            elif step >= self.limits[row]:
                self.ended[row] = (step, "length")
        if self.cancel is not None and self.cancel.is_set():
            return torch.ones(len(self.ended), dtype=torch.bool, device=input_ids.device)
        done = [ended is not None for ended in self.ended]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _stopped(self, row: int, ids: Any) -> bool:
        if not self.stops[row]:
            return False
        text = str(self.tokenizer.decode(ids[self.width :], skip_special_tokens=True))
        return _first_stop(text, self.stops[row]) is not None


class _TokenQueue:
    """A `generate` streamer (duck-typed `BaseStreamer`) that hands new token ids to a queue.

    Decoding happens on the reading side from all tokens so far, so the streamed pieces join
    to exactly the text `generate` returns; transformers' `TextIteratorStreamer` decodes
    word-sized chunks on their own, which can differ in spacing from the whole.
    """

    def __init__(self, out: queue.Queue[Any]) -> None:
        self.out = out
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate first puts the prompt itself
            self.prompt_seen = True
            return
        self.out.put(value.reshape(-1).tolist())

    def end(self) -> None:
        pass  # the worker signals the end itself, also when generate fails


_END = object()


def _require(name: str, value: float, minimum: float, kind: str) -> None:
    if value < minimum:
        raise ConfigError(
            f"The '{name}' parameter of LocalBackend must be {kind} >= {minimum:g}. "
            f"Got {value!r} instead."
        )


class LocalBackend:
    """One base model, loaded once, serving the plain base and many adapters in shared batches.

    >>> backend = LocalBackend(max_adapters=16)
    >>> backend.add_adapter("global@3", "/path/to/adapter")
    >>> backend.generate_one(GenerationRequest(prompt="Once upon a time", adapter="global@3"))
    """

    def __init__(
        self,
        base_model: str | None = None,
        *,
        max_adapters: int = 16,
        max_batch: int = 8,
        batch_wait_ms: float = 5.0,
        chat_template: str | None = None,
        precision: str | None = None,
    ) -> None:
        """`precision` (auto, bf16, fp32; default the settings') is the weights' precision:
        bfloat16 where `tailorai.models.precision` finds it pays."""
        _require("max_adapters", max_adapters, 1, "an int")
        _require("max_batch", max_batch, 1, "an int")
        _require("batch_wait_ms", batch_wait_ms, 0, "a number")
        self.base_model = resolve_model_path(base_model)
        model, self.tokenizer = load_base_model(base_model, inference=True, precision=precision)
        self.max_adapters = max_adapters
        self.max_batch = max_batch
        self.chat_template = chat_template
        self.context_length = config_context_length(model.config) or 2048
        self.adapter_loads = 0  # adapters loaded into the model, reloads after eviction included
        self.adapter_evictions = 0  # adapters unloaded to stay within max_adapters
        self.generate_calls = 0  # model.generate calls: batches actually run
        self._base = model.eval()
        self._peft: Any = None  # the PeftModel around the base, once PEFT loads an adapter
        self._bank = LoraBank(model, slots=max_adapters + 1)
        self._adapters: dict[str, _Adapter] = {}
        self._loaded: OrderedDict[str, _Adapter] = OrderedDict()  # least recently used first
        self._names = 0
        self._lock = threading.Lock()  # every use of the model and tokenizer holds it
        self._eos = _eos_ids(model, self.tokenizer)
        self._byte_tokens: set[int] | None = None  # found on the first stream
        pad = self.tokenizer.pad_token_id
        self._pad = pad if pad is not None else min(self._eos, default=0)
        self._batcher: MicroBatcher[GenerationRequest, GenerationResult] = MicroBatcher(
            self._serve, max_batch=max_batch, wait_s=batch_wait_ms / 1000
        )

    # -- adapters ------------------------------------------------------------------------------

    @property
    def model(self) -> Any:
        """The model generate runs on: the base, or the PEFT model around it once adapters load."""
        return self._peft if self._peft is not None else self._base

    @property
    def adapters(self) -> list[str]:
        """The registered adapter keys."""
        return list(self._adapters)

    @property
    def loaded_adapters(self) -> list[str]:
        """The keys of the adapters in memory now, least recently used first."""
        return list(self._loaded)

    def has_adapter(self, key: str) -> bool:
        return key in self._adapters

    def add_adapter(self, key: str, path: str | Path, *, chat_template: str | None = None) -> None:
        """Register the PEFT adapter folder `path` under `key`; it loads on first use.

        `chat_template` (the one a version was trained with) renders the messages of requests
        for this adapter; the back end's own template otherwise.
        """
        folder = Path(path).expanduser()
        config_file = folder / "adapter_config.json"
        if not config_file.is_file():
            raise ModelError(
                f"Adapter {key!r}: {folder} holds no adapter_config.json. Pass the folder PEFT's "
                "save_pretrained wrote (a registry version's adapter_path)."
            )
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"Adapter {key!r}: could not read {config_file}: {exc}") from exc
        with self._lock:
            old = self._adapters.get(key)
            if old is not None and old.key in self._loaded:
                self._unload(old)  # re-registered: the old weights must not serve it any more
            self._names += 1
            self._adapters[key] = _Adapter(
                key=key,
                path=folder,
                name=f"adapter_{self._names}",
                dora=bool(config.get("use_dora")),
                chat_template=chat_template,
                banked=LoraBank.supports(folder, config),
            )

    def add_version(self, version: Any, *, key: str | None = None) -> str:
        """Register a registry `ModelVersion`'s adapter under `key` (default: its ref);
        returns the key."""
        if version.adapter_path is None:
            raise ModelError(
                f"{version.ref} is a full fine-tune, not an adapter. Serve it with a back end of "
                f"its own: LocalBackend('{version.path}/model')."
            )
        if not same_base(version.base_model, self.base_model):
            raise ModelError(
                f"{version.ref} was trained on {version.base_model}, but this back end serves "
                f"{self.base_model}. Serve it from a LocalBackend on its base model."
            )
        key = key or str(version.ref)
        self.add_adapter(key, version.adapter_path, chat_template=version.chat_template)
        return key

    def _load(self, adapter: _Adapter) -> None:
        from peft import PeftModel

        try:
            if adapter.banked:
                self._bank.load(adapter.name, adapter.path)
            elif self._peft is None:
                self._peft = PeftModel.from_pretrained(
                    self._base, str(adapter.path), adapter_name=adapter.name
                ).eval()
            else:
                self._peft.load_adapter(str(adapter.path), adapter_name=adapter.name)
                self._peft.eval()
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelError(
                f"Could not load adapter {adapter.key!r} from {adapter.path}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. Check that it "
                f"was trained on this back end's base model ({self.base_model})."
            ) from exc
        self._loaded[adapter.key] = adapter
        self.adapter_loads += 1

    def _unload(self, adapter: _Adapter) -> None:
        others = [a.name for a in self._loaded.values() if a.name != adapter.name and not a.banked]
        if adapter.banked:
            self._bank.unload(adapter.name)
        elif not others:
            # PEFT breaks once its last adapter is deleted: take the adapter layers off the
            # base instead (without merging), and wrap it again on the next load.
            self._base = self._peft.unload().eval()
            self._peft = None
        else:
            if adapter.name in self._peft.active_adapters:
                # Hand "active" on first; PEFT would otherwise pick one and warn about it.
                self._peft.set_adapter(others[-1])
            self._peft.delete_adapter(adapter.name)
        del self._loaded[adapter.key]
        self.adapter_evictions += 1

    def _ensure_loaded(self, adapters: Sequence[_Adapter]) -> None:
        """Load what `adapters` lacks; evict the least recently used others beyond the limit."""
        wanted = {a.key for a in adapters}
        for adapter in adapters:
            if adapter.key in self._loaded:
                self._loaded.move_to_end(adapter.key)
            else:
                self._load(adapter)
        # Load first, evict after: PEFT keeps its wrapper only while one adapter is loaded.
        for key in list(self._loaded):
            if len(self._loaded) <= self.max_adapters:
                break
            if key not in wanted:
                self._unload(self._loaded[key])

    # -- generating ----------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Each request's result, in order; one `generate` call per batch of shared settings.

        Requests sharing decoding settings run together, whichever adapters they use, up to
        `max_batch` rows and `max_adapters` distinct adapters per call.
        """
        with self._lock:
            prepared = [self._prepare(request) for request in requests]
            return self._run(prepared)

    def submit(self, request: GenerationRequest) -> Future[GenerationResult]:
        """Queue one request to be batched with those of concurrent callers."""
        return self._batcher.submit(request)

    def generate_one(self, request: GenerationRequest) -> GenerationResult:
        """One request's result, micro-batched with concurrent callers' requests."""
        return self.submit(request).result()

    def prompt_tokens(self, request: GenerationRequest) -> int:
        """How many tokens the model reads for `request` (its rendered prompt)."""
        with self._lock:
            return len(self._prepare(request).ids)

    def stream(self, request: GenerationRequest) -> TextStream:
        """Text pieces of one request's reply as its tokens are produced.

        The request is checked now (an unknown adapter raises here); generation starts on the
        first `next`. The pieces join to the text `generate` would return, and once they are
        all out the stream's `finish_reason` and `completion_tokens` are those `generate`
        would give. Text that could be the start of a stop string is held back until it is
        known not to be one.
        """
        with self._lock:
            prepared = self._prepare(request)
        out = TextStream()
        return out.attach(self._stream(prepared, out))

    def close(self) -> None:
        """Serve what is queued, then stop the micro-batching worker."""
        self._batcher.close()

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _prepare(self, request: GenerationRequest) -> _Prepared:
        adapter = None
        if request.adapter is not None:
            adapter = self._adapters.get(request.adapter)
            if adapter is None:
                known = ", ".join(sorted(self._adapters)) or "none"
                raise ModelError(
                    f"Unknown adapter {request.adapter!r} (registered: {known}). Register it "
                    "first with add_adapter(key, path) or add_version(version), or pass "
                    "adapter=None for the base model."
                )
        if request.messages is not None:
            template = adapter.chat_template if adapter else None
            ids = encode_chat(
                self.tokenizer,
                request.messages,
                add_generation_prompt=True,
                template=template or self.chat_template,
            ).input_ids
        else:
            # Like encode_chat: no special tokens added; the text is the whole prompt.
            ids = list(self.tokenizer(request.prompt, add_special_tokens=False)["input_ids"])
        room = self.context_length - len(ids)
        if room <= 0:
            raise DataError(
                f"A prompt of {len(ids)} tokens leaves no room to answer in the model's context "
                f"of {self.context_length} tokens. Shorten the prompt."
            )
        return _Prepared(request, ids, min(request.max_new_tokens, room), adapter)

    def _batches(self, prepared: Sequence[_Prepared]) -> Iterator[list[int]]:
        """Indices of `prepared` in groups that may share one generate call."""
        groups: dict[tuple[tuple[float, float, float, int], str | None], list[int]] = {}
        for index, item in enumerate(prepared):
            # The bank's adapters and the base share batches; PEFT's LoRA variants share their
            # own; each DoRA adapter runs alone.
            adapter, group = item.adapter, None
            if adapter is not None and not adapter.banked:
                group = adapter.key if adapter.dora else "peft"
            groups.setdefault((item.request.decoding, group), []).append(index)
        for indices in groups.values():
            batch: list[int] = []
            keys: set[str] = set()
            for index in indices:
                adapter = prepared[index].adapter
                new_key = adapter is not None and adapter.key not in keys
                if batch and (
                    len(batch) >= self.max_batch or (new_key and len(keys) >= self.max_adapters)
                ):
                    yield batch
                    batch, keys = [], set()
                batch.append(index)
                if adapter is not None:
                    keys.add(adapter.key)
            if batch:
                yield batch

    def _run(self, prepared: Sequence[_Prepared]) -> list[GenerationResult]:
        results: list[GenerationResult | None] = [None] * len(prepared)
        for batch in self._batches(prepared):
            rows = [prepared[i] for i in batch]
            for index, result in zip(batch, self._generate_rows(rows), strict=True):
                results[index] = result
        return [r for r in results if r is not None]

    def _generate_rows(
        self,
        rows: Sequence[_Prepared],
        *,
        streamer: Any = None,
        cancel: threading.Event | None = None,
    ) -> list[GenerationResult]:
        """One `generate` call for `rows` (same decoding); the caller holds the lock."""
        import torch

        started = time.perf_counter()
        adapters = list({r.adapter.key: r.adapter for r in rows if r.adapter is not None}.values())
        self._ensure_loaded(adapters)
        device = self._base.device
        width = max(len(r.ids) for r in rows)
        # Left padding, so every row's reply starts right after the same position.
        input_ids = torch.full((len(rows), width), self._pad, dtype=torch.long, device=device)
        mask = torch.zeros((len(rows), width), dtype=torch.long, device=device)
        for row, item in enumerate(rows):
            input_ids[row, width - len(item.ids) :] = torch.tensor(item.ids, device=device)
            mask[row, width - len(item.ids) :] = 1
        ends = _RowEnds(self.tokenizer, width, rows, self._eos, cancel)
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "max_new_tokens": max(r.limit for r in rows),
            "pad_token_id": self._pad,
            "eos_token_id": sorted(self._eos) or None,
            "streamer": streamer,
        }
        first = rows[0].request
        if first.temperature > 0:
            # Temperature and nucleus sampling only: no top-k a model's generation config may
            # carry.
            kwargs.update(do_sample=True, temperature=first.temperature, top_k=0, top_p=first.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        from transformers import LogitsProcessorList, StoppingCriteriaList

        processors: list[Any] = []
        if first.repetition_penalty != 1.0:
            processors.append(ReplyRepetitionPenalty(first.repetition_penalty, width))
        if first.no_repeat_ngram_size > 0:
            processors.append(ReplyNoRepeatNGram(first.no_repeat_ngram_size, width))
        kwargs["logits_processor"] = LogitsProcessorList(processors)
        context = contextlib.ExitStack()
        if any(a.banked for a in adapters) or not adapters:
            if self._peft is not None:
                context.enter_context(self._peft.disable_adapter())
            context.enter_context(
                self._bank.use([r.adapter.name if r.adapter else None for r in rows])
            )
        elif len(adapters) == 1 and adapters[0].dora:
            self._peft.set_adapter(adapters[0].name)  # PEFT mixes no DoRA rows in a batch
        else:
            kwargs["adapter_names"] = [r.adapter.name if r.adapter else BASE for r in rows]
        kwargs["stopping_criteria"] = StoppingCriteriaList([ends])
        kwargs.update(output_scores=True, return_dict_in_generate=True)
        with torch.inference_mode(), context:
            generated = self.model.generate(**kwargs)
            output = generated.sequences
            # Per step, each row's chosen token's log-probability under the model's scores.
            chosen = output[:, width:]
            logprobs = (
                torch.stack(
                    [
                        torch.log_softmax(scores.float(), dim=-1).gather(1, chosen[:, i : i + 1])[
                            :, 0
                        ]
                        for i, scores in enumerate(generated.scores)
                    ],
                    dim=1,
                )
                if generated.scores
                else None
            )
        self.generate_calls += 1
        seconds = time.perf_counter() - started
        results = []
        for row, item in enumerate(rows):
            steps, reason = ends.ended[row] or (output.shape[1] - width, "length")
            text = str(
                self.tokenizer.decode(output[row, width : width + steps], skip_special_tokens=True)
            )
            cut = _first_stop(text, item.request.stop)
            if cut is not None:
                text, reason = text[:cut], "stop"
            results.append(
                GenerationResult(
                    text=text,
                    prompt_tokens=len(item.ids),
                    completion_tokens=int(steps),
                    finish_reason=reason,
                    adapter=item.request.adapter,
                    seconds=seconds,
                    mean_logprob=(
                        float(logprobs[row, :steps].mean())
                        if logprobs is not None and steps > 0
                        else None
                    ),
                )
            )
        return results

    def _serve(self, requests: list[GenerationRequest]) -> list[GenerationResult | BaseException]:
        """The micro-batch worker's run: a request that cannot be prepared fails alone."""
        outcomes: list[GenerationResult | BaseException | None] = [None] * len(requests)
        with self._lock:
            prepared: dict[int, _Prepared] = {}
            for index, request in enumerate(requests):
                try:
                    prepared[index] = self._prepare(request)
                except (ConfigError, DataError, ModelError) as exc:
                    outcomes[index] = exc
            results = self._run(list(prepared.values()))
        for index, result in zip(prepared, results, strict=True):
            outcomes[index] = result
        return [o for o in outcomes if o is not None]

    def _decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _stable(self, ids: Sequence[int]) -> int:
        """How many of `ids` decode to text no later token can change: all but a trailing run
        of byte-fallback tokens (`<0xE2>`), which sentencepiece decoders decode as a group."""
        if self._byte_tokens is None:
            vocab = self.tokenizer.get_vocab()
            self._byte_tokens = {i for token, i in vocab.items() if _BYTE_TOKEN.fullmatch(token)}
        end = len(ids)
        while end > 0 and ids[end - 1] in self._byte_tokens:
            end -= 1
        return end

    def _stream(self, prepared: _Prepared, out: TextStream) -> Iterator[str]:
        pieces: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        results: list[GenerationResult] = []

        def work() -> None:
            try:
                with self._lock:
                    results.extend(
                        self._generate_rows([prepared], streamer=_TokenQueue(pieces), cancel=cancel)
                    )
            except BaseException as exc:  # re-raised in the reading thread
                pieces.put(exc)
            finally:
                pieces.put(_END)

        thread = threading.Thread(target=work, name="tailorai-stream", daemon=True)
        thread.start()
        stops = list(prepared.request.stop)
        hold = max((len(s) for s in stops), default=1) - 1
        ids: list[int] = []
        sent = 0
        try:
            while True:
                item = pieces.get()
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    raise item
                ids.extend(item)
                text = self._decode(ids)
                cut = _first_stop(text, stops)
                if cut is not None:
                    if cut > sent:
                        yield text[sent:cut]
                    out.finish_reason, out.completion_tokens = "stop", len(ids)
                    return
                # Hold back what may still change: a run of byte tokens (decoded together,
                # so a later byte can turn earlier characters into U+FFFD), a partial stop
                # string, an incomplete character, trailing spaces decoding may fold away.
                stable = self._stable(ids)
                if stable < len(ids):
                    text = self._decode(ids[:stable])
                safe = len(text) - hold
                while safe > sent and text[safe - 1] in " \ufffd":
                    safe -= 1
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            text = self._decode(ids)
            if len(text) > sent:
                yield text[sent:]
            thread.join()
            if results:
                out.finish_reason = results[0].finish_reason
                out.completion_tokens = results[0].completion_tokens
        finally:
            cancel.set()
            thread.join()


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every end-of-sequence id: the tokenizer's and the model's generation config's."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return {int(i) for i in ids if i is not None}
