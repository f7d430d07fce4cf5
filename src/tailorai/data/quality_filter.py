"""Filter: drop records that cannot teach anything, each with the reason counted.

Reasons: `no_assistant_turn` (nothing to learn to say), `too_short` / `too_long` (characters of
the whole record), `boilerplate` (every message is only auto-replies, legal footers,
"Sent from my phone" and the like), `repetitive` (most sentences of the replies repeat), `symbols`
(replies that are mostly not letters) and `low_rating` (feedback rated under `min_rating`, when
set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tailorai.data.step import Filter
from tailorai.errors import ConfigError
from tailorai.records import Conversation, Message

__all__ = ["BOILERPLATE", "QualityFilter"]

BOILERPLATE = re.compile(
    r"^(?:"
    r"sent from my \w+.*"
    r"|get outlook for \w+.*"
    r"|(?:i am|i'm) (?:currently )?out of (?:the )?office.*"
    r"|this (?:e-?mail|message)(?: and any attachments?)? (?:is|are|may be) (?:strictly )?"
    r"confidential.*"
    r"|(?:to )?unsubscribe.*"
    r"|this is an automated (?:message|e-?mail|reply).*"
    r"|please do not reply to this (?:e-?mail|message).*"
    r"|auto(?:matic)?[- ]?reply.*"
    r"|thank you for your (?:e-?mail|message)[,.!]? ?(?:we will|we'll) (?:get back|respond|reply).*"
    r")$",
    re.IGNORECASE,
)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def _sentences(message: Message) -> list[str]:
    return message.sentences if message.sentences is not None else [message.content]


@dataclass
class _Limits:
    min_chars: int
    max_chars: int
    max_repetition: float
    min_letter_ratio: float
    min_rating: float | None


class QualityFilter(Filter):
    name = "filter"

    def __init__(
        self,
        *,
        min_chars: int = 2,
        max_chars: int = 50_000,
        max_repetition: float = 0.5,
        min_letter_ratio: float = 0.25,
        min_rating: float | None = None,
    ) -> None:
        super().__init__()
        if min_chars < 0 or max_chars <= min_chars:
            raise ConfigError(
                f"min_chars and max_chars must satisfy 0 <= min_chars < max_chars. "
                f"Got min_chars={min_chars}, max_chars={max_chars} instead."
            )
        for name, value in (
            ("max_repetition", max_repetition),
            ("min_letter_ratio", min_letter_ratio),
        ):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(
                    f"The '{name}' parameter of QualityFilter must be a float in [0, 1]. "
                    f"Got {value!r} instead."
                )
        self.limits = _Limits(min_chars, max_chars, max_repetition, min_letter_ratio, min_rating)

    def keep(self, record: Conversation) -> bool | tuple[bool, str]:
        limits = self.limits
        replies = [m for m in record.messages if m.role == "assistant" and m.content.strip()]
        if not replies:
            return False, "no_assistant_turn"
        size = sum(len(m.content) for m in record.messages)
        if size < limits.min_chars:
            return False, "too_short"
        if size > limits.max_chars:
            return False, "too_long"
        if all(BOILERPLATE.match(s) for m in record.messages for s in _sentences(m)):
            return False, "boilerplate"
        reply_sentences = [s.casefold() for m in replies for s in _sentences(m)]
        if len(reply_sentences) >= 3:
            repeated = 1 - len(set(reply_sentences)) / len(reply_sentences)
            if repeated > limits.max_repetition:
                return False, "repetitive"
        reply_text = "".join("".join(m.content.split()) for m in replies)
        if (
            reply_text
            and len(_LETTER.findall(reply_text)) / len(reply_text) < limits.min_letter_ratio
        ):
            return False, "symbols"
        rating = record.meta.get("rating")
        if limits.min_rating is not None and rating is not None and rating < limits.min_rating:
            return False, "low_rating"
        return True
