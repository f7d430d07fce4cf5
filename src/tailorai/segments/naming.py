"""Readable names, descriptions and profiles for segments.

A segment is named after what sets its centroid apart from the average user, measured in
standard deviations (z-scores in the scaled feature space), so names stay meaningful whatever
the units or the site. Each archetype below scores a segment; the best score over `THRESHOLD`
names it, otherwise it is "casual visitors" (below-average activity) or "typical visitors".
Names are always distinct: siblings with the same archetype are told apart by the trait that
differs most between them ("buyers, frequent"), then by a number.

    >>> describe([3.1, 2.8, 0.1], ["purchases", "revenue", "events"])
    'purchases ↑3.1σ, revenue ↑2.8σ'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["MOBILE_SHARE", "THRESHOLD", "describe", "name_segments", "segment_profiles"]

THRESHOLD = 0.5  # σ a trait must stand out by to name a segment
MOBILE_SHARE = 0.6  # "(mobile)": at least this share of events on mobile ...
MOBILE_MARGIN = 0.1  # ... and this much more than users overall
_NOTABLE = 0.3  # σ below which a trait is not worth describing


class _Traits(dict[str, float]):
    """z-scores by feature name; a feature not clustered on counts as average (0)."""

    def __missing__(self, key: str) -> float:
        return 0.0

    def mean(self, *names: str) -> float:
        present = [self[n] for n in names if n in self]
        return sum(present) / len(present) if present else 0.0


def _buying(t: _Traits) -> float:
    return max(t["purchases"], t["revenue"], 0.0)


# (name, the traits it rests on, its score): siblings are never told apart by those traits,
# which would read as a contradiction ("form fillers, few forms")
_ARCHETYPES: tuple[tuple[str, tuple[str, ...], Callable[[_Traits], float]], ...] = (
    ("buyers", ("purchases", "revenue"), _buying),
    (
        "lapsed",
        ("recency_days", "frequency_per_day"),
        lambda t: t["recency_days"] - max(t["frequency_per_day"], 0.0),
    ),
    (
        "newcomers",
        ("events", "sessions", "tenure_days", "recency_days"),
        lambda t: -t.mean("events", "sessions", "tenure_days") - max(t["recency_days"], 0.0),
    ),
    (
        "power users",  # active now and far more often than anyone
        ("frequency_per_day", "engagement", "recency_days"),
        lambda t: t.mean("frequency_per_day", "engagement") + max(-t["recency_days"], 0.0) - 1.0,
    ),
    ("clickers", ("click_through",), lambda t: t["click_through"]),
    (
        "engaged readers",
        ("mean_dwell_s", "mean_scroll_depth", "purchases", "revenue"),
        lambda t: max(t["mean_dwell_s"], t["mean_scroll_depth"]) - _buying(t),
    ),
    (
        "browsers",
        ("frequency_per_day", "events", "sessions", "engagement", "purchases", "revenue"),
        lambda t: (
            max(t["frequency_per_day"], t["events"], t["sessions"], t["engagement"]) - _buying(t)
        ),
    ),
    ("form fillers", ("form_submissions",), lambda t: t["form_submissions"]),
)
_RESTS_ON = {name: traits for name, traits, _ in _ARCHETYPES}

_PHRASES = {
    "recency_days": ("inactive lately", "recently active"),
    "frequency_per_day": ("frequent", "infrequent"),
    "events": ("many events", "few events"),
    "sessions": ("many sessions", "few sessions"),
    "tenure_days": ("long-standing", "new"),
    "mean_dwell_s": ("long dwell", "short dwell"),
    "mean_scroll_depth": ("deep scrolling", "shallow scrolling"),
    "click_through": ("high click-through", "low click-through"),
    "form_submissions": ("many forms", "few forms"),
    "purchases": ("many purchases", "few purchases"),
    "revenue": ("high revenue", "low revenue"),
    "engagement": ("highly engaged", "less engaged"),
}


def _phrase(feature: str, up: bool) -> str:
    if feature in _PHRASES:
        return _PHRASES[feature][0 if up else 1]
    kind, _, key = feature.partition(":")
    if kind == "device" and key:
        return f"{'more' if up else 'less'} {key}"
    if kind == "category" and key:
        return f"{'into' if up else 'not into'} {key}"
    return f"{'high' if up else 'low'} {feature}"


def _archetype(traits: _Traits) -> tuple[str, float]:
    name, score = max(((n, f(traits)) for n, _, f in _ARCHETYPES), key=lambda ns: ns[1])
    if score >= THRESHOLD:
        return name, score
    activity = traits.mean("events", "sessions", "frequency_per_day", "engagement")
    return ("casual visitors" if activity < 0 else "typical visitors"), score


def _tell_apart(z: np.ndarray, names: list[str], scores: list[float], features: Sequence[str]):
    """Qualify every sibling but the most typical one by its most differing trait."""
    for base in {n for n in names if names.count(n) > 1}:
        members = sorted((i for i, n in enumerate(names) if n == base), key=lambda i: -scores[i])
        first, used = members[0], set()
        defining = _RESTS_ON.get(base, ())
        for i in members[1:]:
            diff = z[i] - z[first]
            for j in np.argsort(-np.abs(diff), kind="stable"):
                phrase = _phrase(features[j], bool(diff[j] > 0))
                if diff[j] != 0 and features[j] not in defining and phrase not in used:
                    used.add(phrase)
                    names[i] = f"{base}, {phrase}"
                    break


def _number_duplicates(names: list[str], fixed: set[int]) -> None:
    seen = {names[i] for i in fixed}
    for i, name in enumerate(names):
        if i in fixed:
            continue
        candidate, n = name, 2
        while candidate in seen:
            candidate, n = f"{name} {n}", n + 1
        names[i] = candidate
        seen.add(candidate)


def name_segments(
    z: np.ndarray,
    features: Sequence[str],
    *,
    mobile_share: Sequence[float] | None = None,
    overall_mobile_share: float = 0.0,
    overrides: Mapping[int, str] | None = None,
) -> list[str]:
    """Distinct names for segments 0..k-1 from their z-scores (one row per segment).

    `mobile_share[i]` (share of segment i's events on mobile) adds " (mobile)" when the segment
    is mostly mobile and more so than users overall; `overrides` {label: name} win outright.
    """
    z = np.atleast_2d(np.asarray(z, dtype=float))
    picked = [_archetype(_Traits(zip(features, row, strict=True))) for row in z]
    names, scores = [p[0] for p in picked], [p[1] for p in picked]
    _tell_apart(z, names, scores, features)
    if mobile_share is not None:
        for i, share in enumerate(mobile_share):
            if share >= MOBILE_SHARE and share >= overall_mobile_share + MOBILE_MARGIN:
                names[i] += " (mobile)"
    overrides = dict(overrides or {})
    for label, name in overrides.items():
        if 0 <= label < len(names):
            names[label] = name
    _number_duplicates(names, {label for label in overrides if 0 <= label < len(names)})
    return names


def describe(z_row: Sequence[float], features: Sequence[str], top: int = 3) -> str:
    """The segment's `top` most distinctive features with direction, or that it is average."""
    z_row = np.asarray(z_row, dtype=float)
    order = [
        j for j in np.argsort(-np.abs(z_row), kind="stable")[:top] if abs(z_row[j]) >= _NOTABLE
    ]
    if not order:
        return "close to the average user"
    return ", ".join(
        f"{features[j]} {'↑' if z_row[j] > 0 else '↓'}{abs(z_row[j]):.1f}σ" for j in order
    )


def segment_profiles(
    raw: np.ndarray,
    labels: np.ndarray,
    features: Sequence[str],
    names: Mapping[int, str],
    descriptions: Mapping[int, str],
    mobile: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Per segment (in label order, -1 "unassigned" included when present): size, share, a
    description and the mean of each feature in its original units."""
    profiles = []
    for label in np.unique(labels):
        members = labels == label
        profile: dict[str, Any] = {
            "label": int(label),
            "name": names[int(label)],
            "size": int(members.sum()),
            "share": float(members.mean()),
            "description": descriptions.get(int(label), ""),
            "means": dict(zip(features, raw[members].mean(axis=0).tolist(), strict=True)),
        }
        if mobile is not None:
            profile["mobile_share"] = float(mobile[members].mean())
        profiles.append(profile)
    return profiles
