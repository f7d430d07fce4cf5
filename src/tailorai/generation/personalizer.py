"""`Personalizer`: content for one user, on the rung of the ladder their data supports.

    personalizer = Personalizer(store=Store(), backend=LocalBackend())
    generation = personalizer.generate("u42", "product_description", {"product": "boots"})
    generation.output, generation.rung, generation.id

For each request it resolves the user's features and segment (an unknown or anonymous user is
a cold start, never an error), asks the `Router` for the rung and the model version in
production for it, has the `PromptBuilder` compose the prompt (the task's template for the
segment, context cues from the features, the user's own examples on the few-shot rung, all
within the model's context), generates through the back end, applies the guardrails (personal
data in the output replaced by placeholders, a length limit, stop strings, then the fatigue
hooks) and stores the generation record that feedback will attach to.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tailorai.generation.generation_log import GenerationLog, new_generation_id
from tailorai.generation.router import Router
from tailorai.records import Conversation, Generation, Message

__all__ = ["FatigueHook", "Personalizer"]

# A hook sees the user and the candidate output and returns the output to use (the audit stage
# fills these in: frequency caps, repetition checks). None of them by default.
FatigueHook = Callable[[str | None, str, str], str]


@dataclass
class _Plan:
    """A request decided and composed, waiting for the model's output."""

    personalizer: Personalizer
    started: float
    who: str | None
    segment: str | None
    task: str
    inputs: dict[str, Any]
    route: Any
    prompt: Any
    adapter: str | None
    request: Any

    def record(
        self, output: str, prompt_tokens: int, completion_tokens: int, finish: str | None
    ) -> Generation:
        return Generation(
            id=new_generation_id(),
            project_id=self.personalizer.project,
            task=self.task,
            rung=self.route.rung,
            output=output,
            backend=type(self.personalizer.backend).__name__,
            user_id=self.who,
            segment=self.segment,
            model_version=self.route.model_version,
            adapter=self.adapter,
            template_version=self.prompt.template_version,
            inputs=self.inputs,
            prompt=self.prompt.messages,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=finish,
            latency_ms=(time.perf_counter() - self.started) * 1000,
        )


class Personalizer:
    def __init__(
        self,
        *,
        store: Any,
        backend: Any,
        project: str = "default",
        registry: Any = None,
        templates: Any = None,
        retriever: Any = None,
        few_shot: int = 3,
        k: int = 3,
        max_new_tokens: int = 128,
        max_chars: int = 4000,
        scrub_pii: bool = True,
        fatigue_hooks: Sequence[FatigueHook] = (),
    ) -> None:
        from tailorai.prompting import PromptBuilder, TemplateSet
        from tailorai.segments import FeatureStore
        from tailorai.training.registry import Registry

        self.store = store
        self.backend = backend
        self.project = project
        self.registry = registry or Registry(store, project=project)
        self.router = Router(self.registry, few_shot=few_shot)
        self.templates = templates if templates is not None else TemplateSet.load(None)
        self.retriever = retriever
        self.builder = PromptBuilder(
            self.templates,
            retriever,
            backend.tokenizer,
            max_tokens=backend.context_length,
            answer_tokens=max_new_tokens,
        )
        self.features = FeatureStore(store)
        self.log = GenerationLog(store)
        self.k = k
        self.max_new_tokens = max_new_tokens
        self.max_chars = max_chars
        self.scrub_pii = scrub_pii
        self.fatigue_hooks = list(fatigue_hooks)
        self._scrubber: Any = None

    def generate(
        self,
        user_id: str | None,
        task: str,
        inputs: Mapping[str, Any],
        *,
        anonymous_id: str | None = None,
        segment: str | None = None,
        max_new_tokens: int | None = None,
        stop: Sequence[str] = (),
    ) -> Generation:
        """Generate for one user and store the record; its `id` is the `generation_id`.

        `segment` stands in for a user's own when there is no user: content for a whole
        segment (pre-generated variants)."""
        plan = self._plan(user_id, anonymous_id, segment, task, inputs, max_new_tokens, stop)
        result = self.backend.generate_one(plan.request)
        return self.log.add(
            plan.record(
                self._guard(plan.who, task, result.text),
                result.prompt_tokens,
                result.completion_tokens,
                result.finish_reason,
            )
        )

    def generate_stream(
        self,
        user_id: str | None,
        task: str,
        inputs: Mapping[str, Any],
        *,
        anonymous_id: str | None = None,
        max_new_tokens: int | None = None,
        stop: Sequence[str] = (),
    ) -> tuple[str, Iterator[str]]:
        """`generate`, as the generation id and the output's pieces (scrubbed sentence by
        sentence); the record is stored once the last piece is out."""
        plan = self._plan(user_id, anonymous_id, None, task, inputs, max_new_tokens, stop)
        pieces = self.backend.stream(plan.request)  # checked now: a bad request fails here
        prompt_tokens = self.backend.prompt_tokens(plan.request)
        generation_id = new_generation_id()

        def run() -> Iterator[str]:
            sent = []
            for piece in self._scrub_stream(pieces) if self.scrub_pii else pieces:
                sent.append(piece)
                yield piece
            output = "".join(sent)
            record = plan.record(output, prompt_tokens, self._count_tokens(output), None)
            record.id = generation_id
            self.log.add(record)

        return generation_id, run()

    def _plan(
        self,
        user_id: str | None,
        anonymous_id: str | None,
        segment: str | None,
        task: str,
        inputs: Mapping[str, Any],
        max_new_tokens: int | None,
        stop: Sequence[str],
    ) -> _Plan:
        """Who, which rung, which prompt and adapter: everything before the model runs."""
        started = time.perf_counter()
        who = user_id or anonymous_id
        record = self.features.get(self.project, who) if who else None
        if record is not None:
            segment = record.segment
        examples = len(self.retriever.history(user_id)) if self.retriever and user_id else 0
        route = self.router.route(user_id, segment, examples)
        features = record.features.values(datetime.now(UTC)) if record is not None else None
        prompt = self.builder.build(
            user_id=user_id,
            task=task,
            inputs=inputs,
            segment=segment,
            features=features,
            k=self.k if route.rung == "few_shot" else 0,
        )
        adapter = self._adapter(route.version)
        from tailorai.generation.local_backend import GenerationRequest

        request = GenerationRequest(
            messages=prompt.messages,
            adapter=adapter,
            max_new_tokens=max_new_tokens or self.max_new_tokens,
            stop=list(stop),
        )
        return _Plan(
            self, started, who, segment, task, dict(inputs), route, prompt, adapter, request
        )

    # -- chat, in the OpenAI shape -------------------------------------------------------------

    CHAT_TASK = "chat"

    def chat(
        self,
        user_id: str | None,
        messages: Sequence[Mapping[str, str]],
        *,
        model: str = "tailor",
        max_new_tokens: int | None = None,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
    ) -> Generation:
        """Reply to a chat as is, on the user's rung's model (`model="tailor"`) or on a named
        registry version (`"segment-buyers@2"`, or a name for its production version)."""
        started = time.perf_counter()
        segment, route_rung, version = self._chat_route(user_id, model)
        adapter = self._adapter(version)
        result = self.backend.generate_one(
            self._request(messages, adapter, max_new_tokens, stop, temperature)
        )
        return self._record_chat(
            user_id,
            messages,
            segment,
            route_rung,
            version,
            adapter,
            result.text,
            result.prompt_tokens,
            result.completion_tokens,
            started,
            finish_reason=result.finish_reason,
        )

    def chat_stream(
        self,
        user_id: str | None,
        messages: Sequence[Mapping[str, str]],
        *,
        model: str = "tailor",
        max_new_tokens: int | None = None,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
    ) -> tuple[str, Iterator[str]]:
        """The generation id and the reply's text pieces; the record is stored once the last
        piece is out (a stream abandoned half-way records nothing)."""
        started = time.perf_counter()
        segment, route_rung, version = self._chat_route(user_id, model)
        adapter = self._adapter(version)
        request = self._request(messages, adapter, max_new_tokens, stop, temperature)
        pieces = self.backend.stream(request)  # checked now: a bad request fails here
        prompt_tokens = self.backend.prompt_tokens(request)
        generation_id = new_generation_id()

        def run() -> Iterator[str]:
            text = []
            for piece in self._scrub_stream(pieces) if self.scrub_pii else pieces:
                text.append(piece)
                yield piece
            output = "".join(text)
            self._record_chat(
                user_id,
                messages,
                segment,
                route_rung,
                version,
                adapter,
                output,
                prompt_tokens,
                self._count_tokens(output),
                started,
                generation_id=generation_id,
                guard=False,  # already guarded piece by piece: the record keeps what was sent
            )

        return generation_id, run()

    def _chat_route(self, user_id: str | None, model: str) -> tuple[str | None, str, Any]:
        record = self.features.get(self.project, user_id) if user_id else None
        segment = record.segment if record is not None else None
        if model in ("tailor", "", None):
            examples = len(self.retriever.history(user_id)) if self.retriever and user_id else 0
            route = self.router.route(user_id, segment, examples)
            return segment, route.rung, route.version
        if model == "base":  # the untuned base model, as OpenAI-compatible clients may ask
            return segment, "named", None
        return segment, "named", self.registry.get(model)

    def _request(
        self,
        messages: Sequence[Mapping[str, str]],
        adapter: str | None,
        max_new_tokens: int | None,
        stop: Sequence[str],
        temperature: float,
    ) -> Any:
        from tailorai.generation.local_backend import GenerationRequest

        return GenerationRequest(
            messages=[dict(m) for m in messages],
            adapter=adapter,
            max_new_tokens=max_new_tokens or self.max_new_tokens,
            stop=list(stop),
            temperature=temperature,
        )

    def _record_chat(
        self,
        user_id: str | None,
        messages: Sequence[Mapping[str, str]],
        segment: str | None,
        rung: str,
        version: Any,
        adapter: str | None,
        text: str,
        prompt_tokens: int,
        completion_tokens: int,
        started: float,
        *,
        generation_id: str | None = None,
        guard: bool = True,
        finish_reason: str | None = None,
    ) -> Generation:
        output = self._guard(user_id, self.CHAT_TASK, text) if guard else text
        return self.log.add(
            Generation(
                id=generation_id or new_generation_id(),
                project_id=self.project,
                task=self.CHAT_TASK,
                rung=rung,
                output=output,
                backend=type(self.backend).__name__,
                user_id=user_id,
                segment=segment,
                model_version=version.ref if version is not None else None,
                adapter=adapter,
                prompt=[dict(m) for m in messages],
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                finish_reason=finish_reason,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )

    def _count_tokens(self, text: str) -> int:
        tokenizer = self.backend.tokenizer
        return len(tokenizer.encode(text, add_special_tokens=False)) if tokenizer else 0

    def _adapter(self, version: Any) -> str | None:
        """The back end's key for `version`'s adapter (registered on first use), or None."""
        if version is None or version.adapter_path is None:
            return None  # the base model (full fine-tunes are served by their own back end)
        if not self.backend.has_adapter(version.ref):
            self.backend.add_version(version)  # with the chat template it was trained with
        return str(version.ref)

    def _guard(self, who: str | None, task: str, text: str) -> str:
        text = text.strip()[: self.max_chars]
        if self.scrub_pii and text:
            text = self._scrub(text)
        for hook in self.fatigue_hooks:
            text = hook(who, task, text)
        return text

    def _scrub_stream(self, pieces: Iterator[str]) -> Iterator[str]:
        """Pieces with personal data replaced, held back to whole sentences (or lines): a name
        or an email split across pieces is only whole, and only recognizable, in its sentence.
        """
        held = ""
        for piece in pieces:
            held += piece
            cut = max(held.rfind(end) for end in (". ", "! ", "? ", "\n"))
            if cut >= 0:
                ready, held = held[: cut + 1], held[cut + 1 :]
                yield self._scrub(ready) if ready.strip() else ready
        if held:
            yield self._scrub(held) if held.strip() else held

    def _scrub(self, text: str) -> str:
        """Personal data the model wrote (names, emails, phone numbers...) as placeholders."""
        if self._scrubber is None:
            from tailorai.data.anonymize import Anonymize

            self._scrubber = Anonymize(mode="placeholder")
        record = Conversation(
            id="output",
            user_id=None,
            messages=[Message("assistant", text)],
            source="output",
            line=0,
        )
        [cleaned] = list(self._scrubber.run([record]))
        return cleaned.messages[0].content
