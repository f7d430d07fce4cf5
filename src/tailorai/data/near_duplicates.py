"""Near-duplicate removal: MinHash LSH finds candidates, exact Jaccard confirms them.

Shingles are character 5-grams of the normalized text, which suits short chat turns better than
word n-grams. A record is dropped when its Jaccard similarity to an earlier kept record reaches
`threshold` (default 0.8). LSH alone has false positives, so every candidate is confirmed on the
real shingle sets before anything is dropped.

Shingling and signatures are vectorized with numpy: each 5-gram is packed into an integer and
mixed to 32 bits, and each of the `num_perm` hash functions is a multiply-shift hash
`(a * h + b) >> 32` with random odd 64-bit `a` (a universal family that needs no slow modulo).
The signatures go into datasketch's `MinHashLSH` for banding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from tailorai.data.exact_dedupe import normalize_for_dedupe
from tailorai.data.step import Step, require
from tailorai.errors import ConfigError
from tailorai.records import Conversation

__all__ = ["NearDedupe", "jaccard", "shingles"]

_SHIFT = np.uint64(32)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def shingles(text: str, n: int = 5) -> np.ndarray:
    """Sorted unique 32-bit hashes of the character n-grams (n <= 8) of the normalized text."""
    data = np.frombuffer(normalize_for_dedupe(text).encode(), dtype=np.uint8).astype(np.uint64)
    if len(data) < n:
        data = np.pad(data, (0, n - len(data)))
    packed = np.zeros(len(data) - n + 1, dtype=np.uint64)
    for offset in range(n):  # pack the n bytes of each gram into one integer
        packed = (packed << np.uint64(8)) | data[offset : len(data) - n + 1 + offset]
    return np.unique((packed * _GOLDEN) >> _SHIFT)  # multiplicative mix to 32 bits


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) and not len(b):
        return 1.0
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / (len(a) + len(b) - shared)


class NearDedupe(Step):
    name = "near_dedupe"

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5) -> None:
        super().__init__()
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(
                f"The 'threshold' parameter of NearDedupe must be a float in (0, 1]. "
                f"Got {threshold!r} instead."
            )
        if not 1 <= ngram <= 8:
            raise ConfigError(
                f"The 'ngram' parameter of NearDedupe must be an int in [1, 8]. Got {ngram!r}."
            )
        require("datasketch", "pip install datasketch")
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.ngram = ngram
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        rng = np.random.default_rng(1)
        self._a = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64) * 2 + 1  # odd
        self._b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)
        self._kept: dict[int, np.ndarray] = {}

    def _minhash(self, grams: np.ndarray) -> object:
        from datasketch import MinHash

        # uint64 arithmetic wraps modulo 2^64, which multiply-shift hashing relies on.
        signature = ((np.outer(grams, self._a) + self._b) >> _SHIFT).min(axis=0)
        return MinHash(
            num_perm=self.num_perm,
            hashvalues=signature,
            permutations=(self._a, self._b),
            scheme="legacy",  # tags the index: every signature in it comes from this code
        )

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
