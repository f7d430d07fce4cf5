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

from tailorai.data.pii import CONTACT_ENTITIES
from tailorai.generation.generation_log import GenerationLog, new_generation_id
from tailorai.generation.guards import (
    fill_placeholders,
    strip_headers,
    tidy_content,
    trim_unfinished,
)
from tailorai.generation.router import Router
from tailorai.models.loading import version_retrieval_k
from tailorai.records import (
    Backend,
    Conversation,
    Generation,
    GenerationRequest,
    GenerationResult,
    Message,
    TextStream,
)

# How the Personalizer decodes unless told otherwise: greedy, so a user's content follows from
# their prompt alone (two users with the same data get the same text), with the repetition
# control of `generation.decoding` over the reply, which SmolLM2-135M needs to not loop. Chosen
# on SmolLM2's emails, product copy and support replies (bench/personalization_content.py).
CONTENT_DECODING: dict[str, Any] = {
    "temperature": 0.0,
    "top_p": 1.0,
    "repetition_penalty": 1.2,
    "no_repeat_ngram_size": 4,
}

__all__ = ["CONTENT_DECODING", "FatigueHook", "Personalizer"]

# A hook sees the user and the candidate output and returns the output to use (the audit stage
# fills these in: frequency caps, repetition checks). None of them by default.
FatigueHook = Callable[[str | None, str, str], str]


@dataclass
class _Plan:
    """A request decided and composed, waiting for the model's output."""

    started: float
    project: str
    task: str
    who: str | None
    segment: str | None
    rung: str
    model_version: str | None
    adapter: str | None
    template_version: str | None
    inputs: dict[str, Any]
    request: Any  # the back end's GenerationRequest
    experiment_arm: str | None = None  # "experiment:arm" when an experiment chose the model
    favourite: str | None = None  # the user's first favourite category, for placeholders
    part_of_send: bool = False  # caps are the caller's: do not count it as a send

    def record(
        self,
        backend: str,
        output: str,
        prompt_tokens: int,
        completion_tokens: int,
        finish: str | None,
        generation_id: str | None = None,
        mean_logprob: float | None = None,
    ) -> Generation:
        return Generation(
            id=generation_id or new_generation_id(),
            project_id=self.project,
            task=self.task,
            rung=self.rung,
            output=output,
            backend=backend,
            user_id=self.who,
            segment=self.segment,
            model_version=self.model_version,
            # The adapter's registry ref (the back end's key also names the project).
            adapter=self.model_version if self.adapter is not None else None,
            template_version=self.template_version,
            experiment_arm=self.experiment_arm,
            inputs=self.inputs,
            prompt=[dict(m) for m in self.request.messages],
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            finish_reason=finish,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            mean_logprob=mean_logprob,
        )


def _favourite(features: Mapping[str, Any] | None) -> str | None:
    for key in ("preferred_categories", "top_categories"):
        values = (features or {}).get(key)
        if isinstance(values, list | tuple) and values and values[0]:
            return str(values[0])
    return None


class Personalizer:
    def __init__(
        self,
        *,
        store: Any,
        backend: Backend,
        project: str = "default",
        registry: Any = None,
        templates: Any = None,
        retriever: Any = None,
        few_shot: int = 1,
        k: int = 3,
        max_new_tokens: int = 128,
        max_chars: int = 4000,
        scrub_pii: bool = True,
        scrub_entities: Sequence[str] | None = None,
        fatigue_hooks: Sequence[FatigueHook] = (),
        experiments: Any = None,
        fatigue: Any = None,
        decoding: Mapping[str, Any] | None = None,
    ) -> None:
        """`fatigue` (an `audit.fatigue.FatigueGuard`) applies frequency caps before a
        generation and regenerates one that repeats what the user saw lately. `scrub_pii`
        replaces the `scrub_entities` (default: contact details, `CONTACT_ENTITIES`) the model
        wrote with placeholders. `decoding`
        overrides `CONTENT_DECODING`'s fields (temperature, top_p, repetition_penalty,
        no_repeat_ngram_size)."""
        from tailorai.prompting import PromptBuilder, TemplateSet
        from tailorai.rollout.experiments import Experiments
        from tailorai.segments import FeatureStore
        from tailorai.training.registry import Registry

        self.store = store
        self.backend = backend
        self.project = project
        self.registry = registry or Registry(store, project=project)
        self.router = Router(self.registry, few_shot=few_shot)
        # Running experiments choose the model for the units they let in.
        self.experiments = experiments or Experiments(store, self.registry, project=project)
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
        self.decoding = {**CONTENT_DECODING, **(decoding or {})}
        self.max_chars = max_chars
        self.scrub_pii = scrub_pii
        # Contact details by default: names and places in generated copy are the model's
        # characters and cities, and "<PERSON>" in a film's plot reads worse than the risk.
        self.scrub_entities = tuple(scrub_entities or CONTACT_ENTITIES)
        self.fatigue_hooks = list(fatigue_hooks)
        self.fatigue = fatigue
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
        part_of_send: bool = False,
    ) -> Generation:
        """Generate for one user and store the record; its `id` is the `generation_id`.

        `segment` stands in for a user's own when there is no user: content for a whole
        segment (pre-generated variants). `part_of_send`: a piece of a send whose caller
        applies the frequency caps once for the whole (an email's blocks)."""
        plan = self._plan(user_id, anonymous_id, segment, task, inputs, max_new_tokens, stop)
        plan.part_of_send = part_of_send
        return self._run(plan)

    def generate_stream(
        self,
        user_id: str | None,
        task: str,
        inputs: Mapping[str, Any],
        *,
        anonymous_id: str | None = None,
        max_new_tokens: int | None = None,
        stop: Sequence[str] = (),
    ) -> tuple[str, TextStream]:
        """`generate`, as the generation id and the output's pieces (scrubbed sentence by
        sentence); the record is stored once the last piece is out."""
        return self._run_stream(
            self._plan(user_id, anonymous_id, None, task, inputs, max_new_tokens, stop)
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
        temperature: float | None = None,
    ) -> Generation:
        """Reply to a chat as is, on the user's rung's model (`model="tailor"`), the untuned
        base (`"base"`) or a registry version (`"segment-buyers@2"`, or a name for its
        production version)."""
        return self._run(
            self._chat_plan(user_id, messages, model, max_new_tokens, stop, temperature)
        )

    def chat_stream(
        self,
        user_id: str | None,
        messages: Sequence[Mapping[str, str]],
        *,
        model: str = "tailor",
        max_new_tokens: int | None = None,
        stop: Sequence[str] = (),
        temperature: float | None = None,
    ) -> tuple[str, TextStream]:
        """`chat`, as the generation id and the reply's pieces; the record is stored once the
        last piece is out (a stream abandoned half-way records nothing)."""
        return self._run_stream(
            self._chat_plan(user_id, messages, model, max_new_tokens, stop, temperature)
        )

    # -- deciding, then running ----------------------------------------------------------------

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
        route = self.router.route(user_id, segment, self._examples(user_id))
        version, arm = self._experiment(route, who, anonymous_id if user_id else None)
        features = record.features.values(datetime.now(UTC)) if record is not None else None
        prompt = self.builder.build(
            user_id=user_id,
            task=task,
            inputs=inputs,
            segment=segment,
            features=features,
            # A version trained on retrieval-augmented prompts reads the user's own examples
            # on any rung, as many as it was trained with.
            k=version_retrieval_k(version) or (self.k if route.rung == "few_shot" else 0),
        )
        adapter = self.adapter_key(version)
        return _Plan(
            started,
            self.project,
            task,
            who,
            segment,
            route.rung,
            version.ref if version is not None else None,
            adapter,
            prompt.template_version,
            dict(inputs),
            self._request(prompt.messages, adapter, max_new_tokens, stop, None),
            arm,
            favourite=_favourite(features),
        )

    def _chat_plan(
        self,
        user_id: str | None,
        messages: Sequence[Mapping[str, str]],
        model: str,
        max_new_tokens: int | None,
        stop: Sequence[str],
        temperature: float | None,
    ) -> _Plan:
        started = time.perf_counter()
        record = self.features.get(self.project, user_id) if user_id else None
        segment = record.segment if record is not None else None
        arm = None
        if model in ("tailor", "", None):
            route = self.router.route(user_id, segment, self._examples(user_id))
            rung = route.rung
            version, arm = self._experiment(route, user_id, None)
        elif model == "base":  # the untuned base model, as OpenAI-compatible clients may ask
            rung, version = "named", None
        else:
            rung, version = "named", self.registry.get(model)
        adapter = self.adapter_key(version)
        return _Plan(
            started,
            self.project,
            self.CHAT_TASK,
            user_id,
            segment,
            rung,
            version.ref if version is not None else None,
            adapter,
            None,
            {},
            self._request(messages, adapter, max_new_tokens, stop, temperature),
            arm,
        )

    def _experiment(
        self, route: Any, unit: str | None, anonymous_id: str | None
    ) -> tuple[Any, str | None]:
        """The version to serve and the `experiment:arm` label: an experiment running on the
        route's scope may put the unit on one of its arms."""
        scope = route.version.scope if route.version is not None else None
        if scope is None and route.rung in ("few_shot", "zero_shot"):
            scope = "global"  # on the plain base: a global candidate may be tried
        experiment = self.experiments.running(scope) if scope else None
        if experiment is None:
            return route.version, None
        arm = self.experiments.arm_for(experiment, unit, anonymous_id)
        if arm is None:
            return route.version, None
        return self.experiments.version(experiment.version(arm)), f"{experiment.name}:{arm}"

    def _examples(self, user_id: str | None) -> int:
        """How many examples of their own the user has to show (few-shot)."""
        return len(self.retriever.history(user_id)) if self.retriever and user_id else 0

    def _request(
        self,
        messages: Sequence[Mapping[str, str]],
        adapter: str | None,
        max_new_tokens: int | None,
        stop: Sequence[str],
        temperature: float | None,
    ) -> GenerationRequest:
        decoding = dict(self.decoding)
        if temperature is not None:
            decoding["temperature"] = temperature
        return GenerationRequest(
            messages=[dict(m) for m in messages],
            adapter=adapter,
            max_new_tokens=max_new_tokens or self.max_new_tokens,
            stop=list(stop),
            **decoding,
        )

    def _run(self, plan: _Plan) -> Generation:
        channel = self._capped(plan)
        result = self.backend.generate_one(plan.request)
        output = self._guard(plan, result)
        if self.fatigue is not None and plan.who:
            result, output = self._unrepeated(plan, channel, result, output)
        record = self.log.add(
            plan.record(
                type(self.backend).__name__,
                output,
                result.prompt_tokens,
                result.completion_tokens,
                result.finish_reason,
                mean_logprob=getattr(result, "mean_logprob", None),
            )
        )
        if self.fatigue is not None and not plan.part_of_send:
            self.fatigue.sent(plan.who, channel, record.id)
        return record

    def _capped(self, plan: _Plan) -> str:
        """The plan's channel; raises FrequencyCapped (and logs it) when the user may not get
        one more send on it."""
        from tailorai.errors import FrequencyCapped

        if self.fatigue is None:
            return "web"
        channel = self.fatigue.config.channel(plan.task)
        if plan.part_of_send:
            return channel
        allowed, why = self.fatigue.allow(plan.who, channel)
        if not allowed:
            self.fatigue.log(plan.who, channel, "capped", why)
            raise FrequencyCapped(f"Not generated for {plan.who}: {why}.")
        return channel

    def _unrepeated(self, plan: _Plan, channel: str, result: Any, output: str) -> tuple[Any, str]:
        """Regenerate once, sampling, an output too like one the user saw lately."""
        import dataclasses

        threshold = self.fatigue.config.repeat_threshold
        score = self.fatigue.repeats(plan.who, output)
        if score < threshold:
            return result, output
        retry = self.backend.generate_one(
            dataclasses.replace(plan.request, temperature=max(plan.request.temperature, 0.9))
        )
        fresh = self._guard(plan, retry)
        again = self.fatigue.repeats(plan.who, fresh)
        action = "regenerated" if again < threshold else "repeated"
        self.fatigue.log(
            plan.who,
            channel,
            action,
            f"similarity {score:.2f} to a recent output (threshold {threshold}); "
            f"the regenerated one {again:.2f}",
        )
        return retry, fresh

    def _run_stream(self, plan: _Plan) -> tuple[str, TextStream]:
        channel = self._capped(plan)
        pieces = self.backend.stream(plan.request)  # checked now: a bad request fails here
        prompt_tokens = self.backend.prompt_tokens(plan.request)
        generation_id = new_generation_id()
        out = TextStream()

        def run() -> Iterator[str]:
            sent = []
            for piece in self._guard_stream(plan, pieces):
                sent.append(piece)
                yield piece
            output = "".join(sent)  # guarded piece by piece: the record keeps what was sent
            out.finish_reason = getattr(pieces, "finish_reason", None)
            out.completion_tokens = getattr(pieces, "completion_tokens", None)
            if out.completion_tokens is None:
                out.completion_tokens = self._count_tokens(output)
            self.log.add(
                plan.record(
                    type(self.backend).__name__,
                    output,
                    prompt_tokens,
                    out.completion_tokens,
                    out.finish_reason,
                    generation_id,
                )
            )
            if self.fatigue is not None:
                self.fatigue.sent(plan.who, channel, generation_id)

        return generation_id, out.attach(run())

    def _count_tokens(self, text: str) -> int:
        tokenizer = self.backend.tokenizer
        return len(tokenizer.encode(text, add_special_tokens=False)) if tokenizer else 0

    def adapter_key(self, version: Any) -> str | None:
        """The back end's key for `version`'s adapter (registered on first use), or None.

        The key holds the project: one back end serves every project of a server, and two
        projects may each have a `global@1` of their own."""
        if version is None or version.adapter_path is None:
            return None  # the base model (full fine-tunes are served by their own back end)
        key = f"{self.project}/{version.ref}"
        if not self.backend.has_adapter(key):
            # With the chat template it was trained with.
            self.backend.add_version(version, key=key)
        return key

    def _guard(self, plan: _Plan, result: GenerationResult) -> str:
        """The reply as a user may see it: content (not chat completions) cut back to its last
        whole sentence when the token limit ended it and tidied of header lines, at most
        `max_chars`, contact details the model made up replaced, the request's own customer
        name and brand in its placeholders, then the fatigue hooks."""
        text = result.text.strip()
        if plan.task != self.CHAT_TASK:
            # Content a user reads ends at a sentence; a chat client (OpenAI's shape) gets the
            # text as made, with finish_reason "length", as its stream would give it.
            if result.finish_reason == "length":
                text = trim_unfinished(text)
            text = tidy_content(text, brand=self._brand(plan))
        text = text[: self.max_chars]
        if self.scrub_pii and text:
            text = self._scrub(text)
        text = self._fill(plan, text)
        for hook in self.fatigue_hooks:
            text = hook(plan.who, plan.task, text)
        return text

    def _fill(self, plan: _Plan, text: str) -> str:
        # After the scrub: a name the request gave is the user's own, not one the model made up.
        customer = plan.inputs.get("first_name") or plan.inputs.get("name")
        return fill_placeholders(
            text,
            customer=str(customer) if customer else None,
            brand=self._brand(plan),
            category=plan.favourite,
        )

    def _brand(self, plan: _Plan) -> str | None:
        brand = plan.inputs.get("brand") or self.templates.defaults.get("brand")
        return str(brand) if brand else None

    def _guard_stream(self, plan: _Plan, pieces: Iterator[str]) -> Iterator[str]:
        """Pieces held back to whole sentences (or lines), each scrubbed and filled: a name or
        a placeholder split across pieces is only whole, and only recognizable, in its
        sentence."""
        held = ""
        for piece in pieces:
            held += piece
            cut = max(held.rfind(end) for end in (". ", "! ", "? ", "\n"))
            if cut >= 0:
                ready, held = held[: cut + 1], held[cut + 1 :]
                yield self._finish_piece(plan, ready)
        if held:
            yield self._finish_piece(plan, held)

    def _finish_piece(self, plan: _Plan, text: str) -> str:
        if plan.task != self.CHAT_TASK:
            text = strip_headers(text)  # pieces end at a line or sentence: whole header lines
        if not text.strip():
            return text
        return self._fill(plan, self._scrub(text) if self.scrub_pii else text)

    def _scrub(self, text: str) -> str:
        """Personal data the model wrote (names, emails, phone numbers...) as placeholders."""
        if self._scrubber is None:
            from tailorai.data.anonymize import Anonymize

            self._scrubber = Anonymize(mode="placeholder", entities=self.scrub_entities)
        record = Conversation(
            id="output",
            user_id=None,
            messages=[Message("assistant", text)],
            source="output",
            line=0,
        )
        [cleaned] = list(self._scrubber.run([record]))
        return cleaned.messages[0].content
