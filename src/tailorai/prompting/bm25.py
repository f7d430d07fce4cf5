"""BM25 retrieval: rank a user's past prompts by the words they share with the query.

Okapi BM25 over each user's own history, so every statistic (document frequencies, average
length) comes from that user's examples alone. Tokens are the lowercased `\\w+` runs of the text
minus a short list of English stopwords. The IDF is the always-positive Lucene form,
`ln(1 + (N - n + 0.5) / (n + 0.5))`, because a history of two or three examples would make the
classic form negative for any word in most of them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection
from typing import ClassVar

import numpy as np

from tailorai.errors import ConfigError
from tailorai.prompting.retrieval import HistoryRetriever

__all__ = ["ENGLISH_STOPWORDS", "BM25Retriever", "tokenize"]

# Words that say nothing about what a message is about; a short list on purpose.
ENGLISH_STOPWORDS = frozenset(
    """a an and are as at be but by can could do does for from had has have hi hello i if in
    into is it its me my of on or our please so that the their them then there these they this to
    us was we were what when where which who will with would you your""".split()  # noqa: SIM905
)
_WORD = re.compile(r"\w+")


def tokenize(text: str, stopwords: Collection[str] = ENGLISH_STOPWORDS) -> list[str]:
    """Lowercased words of `text`, stopwords removed: `tokenize("Where is my order?")` is
    `["order"]`."""
    return [w for w in _WORD.findall(text.casefold()) if w not in stopwords]


class _Index:
    """BM25 statistics of one user's prompts."""

    def __init__(self, documents: list[list[str]]) -> None:
        self.term_counts = [Counter(doc) for doc in documents]
        self.lengths = np.array([len(doc) for doc in documents], dtype=float)
        self.average_length = float(self.lengths.mean()) if documents else 0.0
        frequencies: Counter[str] = Counter()
        for counts in self.term_counts:
            frequencies.update(counts.keys())
        n = len(documents)
        self.idf = {
            term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequencies.items()
        }

    def scores(self, query: list[str], k1: float, b: float) -> np.ndarray:
        scores = np.zeros(len(self.term_counts))
        if self.average_length == 0:
            return scores
        norms = k1 * (1 - b + b * self.lengths / self.average_length)
        for term in set(query):
            idf = self.idf.get(term)
            if idf is None:
                continue
            tf = np.array([counts.get(term, 0) for counts in self.term_counts], dtype=float)
            scores += idf * tf * (k1 + 1) / (tf + norms)
        return scores


class BM25Retriever(HistoryRetriever):
    """Okapi BM25 over each user's own examples.

    Example: `BM25Retriever().fit(train).search("u1", "where is my parcel", k=3)`.
    """

    name: ClassVar[str] = "bm25"

    def __init__(
        self, *, k1: float = 1.5, b: float = 0.75, stopwords: Collection[str] = ENGLISH_STOPWORDS
    ) -> None:
        if isinstance(k1, bool) or not isinstance(k1, int | float) or k1 < 0:
            raise ConfigError(
                f"The 'k1' parameter of BM25Retriever must be a float >= 0. Got {k1!r} instead."
            )
        if isinstance(b, bool) or not isinstance(b, int | float) or not 0 <= b <= 1:
            raise ConfigError(
                f"The 'b' parameter of BM25Retriever must be a float in [0, 1]. Got {b!r} instead."
            )
        self.k1 = float(k1)
        self.b = float(b)
        self.stopwords = frozenset(stopwords)

    def _build(self, prompts_by_user: dict[str, list[str]]) -> None:
        self.indexes_ = {
            user: _Index([tokenize(p, self.stopwords) for p in prompts])
            for user, prompts in prompts_by_user.items()
        }

    def _scores(self, user_id: str, query: str) -> np.ndarray:
        return self.indexes_[user_id].scores(tokenize(query, self.stopwords), self.k1, self.b)
