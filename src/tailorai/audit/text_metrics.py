"""Per-output features for audits, offline and fast: sentiment, offensiveness, reading ease,
length, and what the text offers (discounts, prices, categories).

Every detector is a plain function of the text, so the bias report and the counterfactual probes
measure outputs the same way::

    >>> offers("Take 20% off shoes with code SPRING, now $49.99", categories=["shoes"])
    {'discount': True, 'discount_percents': [20.0], 'prices': [49.99], 'categories': ['shoes']}

Detectors and their limits:

- **sentiment**: VADER's compound score in [-1, 1] (Hutto and Gilbert, ICWSM 2014), a lexicon and
  rules tuned for short social-media text; it needs no model download.
- **offensive**: alt-profanity-check's probability that a text is offensive (a linear SVM over
  character and word n-grams, trained on about 200k labelled comments). `OFFENSIVE_THRESHOLD`
  turns it into a yes/no. It is 0.9, calibrated on real outputs: 85 of SmolLM2's generations
  from `make demo` (emails, support replies, campaign blocks) scored at most 0.07, while
  harmless sentences with an edgy word score up to 0.64 ("a big, stupid bear who ate all the
  honey", from the story model, was flagged at the old 0.5) and plain abuse 0.97 or more
  (`tests/audit/fixtures/offensive_calibration.jsonl`, a test keeps the threshold between).
- **reading ease**: Flesch reading ease,
  ``206.835 - 1.015 * (words / sentences) - 84.6 * (syllables / words)``; higher is easier
  (60-70 is plain English, below 30 is academic). Syllables are pyphen's en_US hyphenation
  points + 1 per word, which undercounts short words pyphen will not split ("area" counts 1);
  both sides of a comparison share the bias, so gaps between groups stay meaningful.
- **offers**: regular expressions, matched case-insensitively and on whole words. A discount is
  any of ``N% off``, ``N percent off``, ``discount``, ``coupon``, ``voucher``, ``promo code``,
  ``save $N`` / ``save N%``, ``free shipping`` / ``free delivery``, ``buy one get one`` /
  ``BOGO``, ``on sale``. Negations are not understood ("no discount" counts as a discount).
  Prices are currency amounts (``$``, ``€``, ``£`` before, or ``USD``, ``EUR``, ``GBP``,
  ``dollars``, ``euros``, ``pounds`` after, thousands separators allowed); an amount saved
  ("save $10") is a price mentioned too. Categories are entries of a caller's vocabulary found
  as whole words, an optional plural "s" or "es" allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from tailorai.errors import MissingDependency

__all__ = [
    "OFFENSIVE_THRESHOLD",
    "features",
    "length_words",
    "offensive",
    "offers",
    "reading_ease",
    "sentiment",
]

OFFENSIVE_THRESHOLD = 0.9
_BATCH = 1024

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+")
_DISCOUNT = re.compile(
    r"\b\d{1,3}(?:\.\d+)?\s?(?:%|percent\b)\s*off\b"
    r"|\bdiscount(?:s|ed)?\b"
    r"|\bcoupons?\b"
    r"|\bvouchers?\b"
    r"|\bpromo(?:tional)?\s+codes?\b"
    r"|\bsave\s+(?:up\s+to\s+)?(?:[$€£]\s?\d|\d+(?:\.\d+)?\s?(?:%|percent\b|dollars\b|euros\b))"
    r"|\bfree\s+(?:shipping|delivery)\b"
    r"|\bbuy\s+one,?\s+get\s+one\b|\bbogo\b"
    r"|\bon\s+sale\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(
    r"(?:\bsave\s+(?:up\s+to\s+)?)?\b(\d{1,3}(?:\.\d+)?)\s?(?:%|percent\b)"
    r"(?=\s*(?:off\b|discount\b))"
    r"|\bsave\s+(?:up\s+to\s+)?(\d{1,3}(?:\.\d+)?)\s?(?:%|percent\b)",
    re.IGNORECASE,
)
_AMOUNT = r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
_PRICE = re.compile(
    rf"[$€£]\s?{_AMOUNT}|\b{_AMOUNT}\s?(?:USD|EUR|GBP|dollars?|euros?|pounds?)\b",
    re.IGNORECASE,
)


@cache
def _vader() -> Any:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:
        raise MissingDependency("vaderSentiment", "pip install vaderSentiment") from exc
    return SentimentIntensityAnalyzer()


@cache
def _hyphenator() -> Any:
    try:
        import pyphen
    except ImportError as exc:
        raise MissingDependency("pyphen", "pip install pyphen") from exc
    return pyphen.Pyphen(lang="en_US")


def sentiment(text: str) -> float:
    """VADER compound score in [-1, 1]; 0 for neutral or empty text."""
    return float(_vader().polarity_scores(text)["compound"])


def offensive(texts: Sequence[str]) -> list[float]:
    """Probability that each text is offensive (alt-profanity-check), scored in batches."""
    try:
        from profanity_check import predict_prob
    except ImportError as exc:
        raise MissingDependency("alt-profanity-check", "pip install alt-profanity-check") from exc
    texts = list(texts)
    probabilities: list[float] = []
    for start in range(0, len(texts), _BATCH):
        probabilities.extend(float(p) for p in predict_prob(texts[start : start + _BATCH]))
    return probabilities


def length_words(text: str) -> int:
    """Number of words: runs of letters or digits, inner apostrophes and hyphens included."""
    return len(_WORD.findall(text))


def _syllables(word: str) -> int:
    return len(_hyphenator().positions(word)) + 1


def reading_ease(text: str) -> float:
    """Flesch reading ease (see the module docstring); NaN for text without words.

    >>> round(reading_ease("The cat sat on the mat."), 1)
    116.1
    """
    words = _WORD.findall(text)
    if not words:
        return math.nan
    # Text that ends without punctuation is still one sentence.
    sentences = max(1, sum(1 for part in _SENTENCE_END.split(text) if _WORD.search(part)))
    syllables = sum(_syllables(word) for word in words)
    return 206.835 - 1.015 * len(words) / sentences - 84.6 * syllables / len(words)


def _category_pattern(category: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(category)}(?:s|es)?\b", re.IGNORECASE)


def offers(text: str, categories: Iterable[str] = ()) -> dict[str, Any]:
    """What a text offers: discount (bool), discount percents, prices mentioned, categories."""
    percents = [float(a or b) for a, b in _PERCENT.findall(text)]
    prices = [float((a or b).replace(",", "")) for a, b in _PRICE.findall(text)]
    return {
        "discount": _DISCOUNT.search(text) is not None,
        "discount_percents": percents,
        "prices": prices,
        "categories": [c for c in categories if _category_pattern(c).search(text)],
    }


def features(texts: Sequence[str], categories: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One flat dict of features per text, ready for `BiasReport` and the probes.

    Keys: ``sentiment``, ``offensive_prob``, ``offensive`` (prob >= `OFFENSIVE_THRESHOLD`),
    ``reading_ease`` (NaN without words), ``length_words``, ``discount``,
    ``discount_percents``, ``prices``, ``mentions_price``, ``price`` (mean price mentioned, NaN
    if none), ``categories`` and one ``category:<name>`` bool per vocabulary entry.
    """
    categories = list(categories)
    texts = list(texts)
    rows = []
    for text, prob in zip(texts, offensive(texts) if texts else [], strict=True):
        offer = offers(text, categories)
        found = set(offer["categories"])
        prices = offer["prices"]
        rows.append(
            {
                "sentiment": sentiment(text),
                "offensive_prob": prob,
                "offensive": prob >= OFFENSIVE_THRESHOLD,
                "reading_ease": reading_ease(text),
                "length_words": length_words(text),
                **offer,
                "mentions_price": bool(prices),
                "price": sum(prices) / len(prices) if prices else math.nan,
                **{f"category:{c}": c in found for c in categories},
            }
        )
    return rows
