"""The anonymize step: replace personal data in every message with a placeholder or a pseudonym.

Detection is `PiiDetector` (Presidio's recognizers, spaCy NER and ours, batched over many
messages at once); replacement is Presidio's `AnonymizerEngine`. In ``placeholder`` mode a span
becomes ``<ENTITY_TYPE>``; in ``pseudonym`` mode it becomes a fake value of the same kind that is
the same for the same user and value everywhere (`Pseudonymizer`). A record's own known PII,
``record.meta["known_pii"]`` (``{"PERSON": ["Jane Doe"], "PHONE_NUMBER": [...]}``), is always
caught, in any case or format.

Example::

    step = Anonymize(mode="pseudonym", secret="s3cret")
    records = list(step.run(records))
    step.entities  # Counter({'PERSON': 120, 'EMAIL_ADDRESS': 8, ...})
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from tailorai.data.pii import DEFAULT_ENTITIES, SPACY_MODEL, PiiDetector, PiiSpan
from tailorai.data.pseudonyms import Pseudonymizer
from tailorai.data.step import Step, require
from tailorai.errors import ConfigError
from tailorai.records import Conversation

__all__ = ["MODES", "SECRET_ENV", "Anonymize"]

MODES = ("placeholder", "pseudonym")
SECRET_ENV = "TAILOR_PII_SECRET"


class Anonymize(Step):
    """Replaces the personal data in every message of every record.

    Records are processed in batches of about `batch_messages` messages, so that NER runs over
    many texts at once. A record that cannot be anonymized is dropped (``dropped["unreadable"]``
    or ``dropped["anonymize_failed"]``), never passed on with its personal data.
    """

    name = "anonymize"

    def __init__(
        self,
        *,
        mode: str = "placeholder",
        entities: Sequence[str] = DEFAULT_ENTITIES,
        secret: str | bytes | None = None,
        model: str = SPACY_MODEL,
        batch_messages: int = 512,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ConfigError(
                "The 'mode' parameter of Anonymize must be 'placeholder' or 'pseudonym'. "
                f"Got {mode!r} instead."
            )
        if not isinstance(batch_messages, int) or batch_messages < 1:
            raise ConfigError(
                "The 'batch_messages' parameter of Anonymize must be a positive int. "
                f"Got {batch_messages!r} instead."
            )
        require("presidio_anonymizer", "pip install presidio-anonymizer")
        from presidio_anonymizer import AnonymizerEngine

        self.mode = mode
        self.batch_messages = batch_messages
        self.pseudonyms: Pseudonymizer | None = None
        if mode == "pseudonym":
            secret = secret if secret is not None else os.environ.get(SECRET_ENV)
            if not secret:
                raise ConfigError(
                    "The 'secret' parameter of Anonymize is required in pseudonym mode: it keys "
                    f"the hash that makes pseudonyms stable and unguessable. Got {secret!r} "
                    f"instead. Pass secret=... or set {SECRET_ENV}."
                )
            self.pseudonyms = Pseudonymizer(secret)
        self.detector = PiiDetector(entities=entities, model=model)
        self.engine = AnonymizerEngine()
        self.entities: Counter[str] = Counter()

    def run(self, records: Iterable[Conversation]) -> Iterator[Conversation]:
        batch: list[Conversation] = []
        size = 0
        for record in records:
            if not _readable(record):
                self.drop(record, "unreadable")
                continue
            batch.append(record)
            size += len(record.messages)
            if size >= self.batch_messages:
                yield from self._batch(batch)
                batch, size = [], 0
        yield from self._batch(batch)

    def _batch(self, records: list[Conversation]) -> Iterator[Conversation]:
        try:
            spans = self._analyze(records)
        except Exception:  # one odd record must not take the batch with it: retry one by one
            spans = None
        for i, record in enumerate(records):
            try:
                record_spans = spans[i] if spans is not None else self._analyze([record])[0]
                self._replace(record, record_spans)
            except Exception:  # a step never raises on a bad record
                self.drop(record, "anonymize_failed")
                continue
            yield record

    def _analyze(self, records: list[Conversation]) -> list[list[list[PiiSpan]]]:
        """Spans per message per record, from one detector call over the whole batch."""
        texts = [m.content for r in records for m in r.messages]
        known = [_known_pii(r) for r in records for _ in r.messages]
        flat = iter(self.detector.analyze(texts, known))
        return [[next(flat) for _ in r.messages] for r in records]

    def _replace(self, record: Conversation, spans: list[list[PiiSpan]]) -> None:
        for message, found in zip(record.messages, spans, strict=True):
            if not found:
                continue
            self.entities.update(s.entity_type for s in found)
            new = self._anonymize(message.content, found, record.user_id)
            if new != message.content:
                message.content = new
                message.sentences = None

    def _anonymize(self, text: str, spans: list[PiiSpan], user_id: str | None) -> str:
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        results = [RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans]
        if self.pseudonyms is None:
            operators = {"DEFAULT": OperatorConfig("replace")}  # Presidio writes <ENTITY_TYPE>
        else:
            fake = self.pseudonyms.fake
            operators = {
                entity: OperatorConfig("custom", {"lambda": _bind(fake, user_id, entity)})
                for entity in {s.entity_type for s in spans}
            }
        return self.engine.anonymize(text, results, operators).text


def _bind(fake: Any, user_id: str | None, entity: str) -> Any:
    return lambda value: fake(user_id, entity, value)


def _readable(record: Any) -> bool:
    messages = getattr(record, "messages", None)
    return isinstance(messages, list) and all(
        isinstance(getattr(m, "content", None), str) for m in messages
    )


def _known_pii(record: Conversation) -> dict[str, list[str]] | None:
    """The record's ``meta["known_pii"]``, keeping only string values; None when there is none."""
    meta = record.meta if isinstance(record.meta, Mapping) else {}
    known = meta.get("known_pii")
    if not isinstance(known, Mapping):
        return None
    clean: dict[str, list[str]] = {}
    for entity, values in known.items():
        if isinstance(values, str):
            values = [values]
        if isinstance(entity, str) and isinstance(values, Sequence):
            clean[entity] = [v for v in values if isinstance(v, str) and v.strip()]
    return clean or None
