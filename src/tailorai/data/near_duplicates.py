"""Near-duplicate removal: MinHash LSH finds candidates, exact Jaccard confirms them.

Shingles are character 5-grams of the normalized text, which suits short chat turns better than
word n-grams. A record is dropped when its Jaccard similarity to an earlier kept record reaches
`threshold` (default 0.8). LSH alone has false positives, so every candidate is confirmed on the
real shingle sets before anything is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import xxhash

from tailorai.data.exact_dedupe import normalize_for_dedupe
from tailorai.data.step import Step, require
from tailorai.errors import ConfigError
from tailorai.records import Conversation

__all__ = ["NearDedupe", "jaccard", "shingles"]


def shingles(text: str, n: int = 5) -> frozenset[int]:
    norm = normalize_for_dedupe(text).encode()
    if len(norm) <= n:
        return frozenset({xxhash.xxh32_intdigest(norm)})
    digest = xxhash.xxh32_intdigest
    return frozenset(digest(norm[i : i + n]) for i in range(len(norm) - n + 1))


def _identity(value: int) -> int:
    return value


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class NearDedupe(Step):
    name = "near_dedupe"

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5) -> None:
        super().__init__()
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(
                f"The 'threshold' parameter of NearDedupe must be a float in (0, 1]. "
                f"Got {threshold!r} instead."
            )
        require("datasketch", "pip install datasketch")
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.ngram = ngram
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._num_perm = num_perm
        self._kept: dict[int, frozenset[int]] = {}

    def _minhash(self, grams: frozenset[int]) -> object:
        from datasketch import MinHash

        # Shingles are already 32-bit hashes: hand them over as they are.
        signature = MinHash(num_perm=self._num_perm, seed=1, hashfunc=_identity)
        signature.update_batch(grams)
        return signature

    def run(self, records: Iterable[Conversation]) -> Iterator[Conversation]:
        for index, record in enumerate(records):
            grams = shingles(record.text, self.ngram)
            signature = self._minhash(grams)
            candidates = self._lsh.query(signature)
            if any(jaccard(grams, self._kept[c]) >= self.threshold for c in candidates):
                self.drop(record, "near_duplicate")
                continue
            self._lsh.insert(index, signature)
            self._kept[index] = grams
            yield record
