"""`Segmenter`: groups users into named segments from their features, scikit-learn style.

Input is either feature dicts (what `UserFeatures.values(now)` returns) or a 2-D array of
numbers. Dicts become one row per user: the numeric features named in `features`, plus
`device:<type>` (that device's share of the user's events), `category:<name>` (1 when it is among
the user's top categories) and `tenure_days` (last_seen - first_seen) when named. Counts and
amounts are heavy-tailed, so those in `LOG_FEATURES` go through log1p before standard scaling;
otherwise a handful of big spenders would be a segment each.

    >>> segmenter = Segmenter(k="auto").fit(users)          # doctest: +SKIP
    >>> segmenter.names_, segmenter.assign_one(users[0])   # doctest: +SKIP
    ({0: 'engaged readers', 1: 'buyers (mobile)', 2: 'lapsed'}, (1, 'buyers (mobile)'))
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from tailorai.errors import ConfigError, DataError
from tailorai.segments import selection
from tailorai.segments.naming import describe, name_segments, segment_profiles

__all__ = [
    "DEFAULT_FEATURES",
    "LOG_FEATURES",
    "MINIBATCH_ABOVE",
    "UNASSIGNED",
    "SegmentationWarning",
    "Segmenter",
]

DEFAULT_FEATURES = (
    "recency_days",
    "frequency_per_day",
    "events",
    "sessions",
    "tenure_days",
    "mean_dwell_s",
    "mean_scroll_depth",
    "click_through",
    "form_submissions",
    "purchases",
    "revenue",
    "engagement",
)
_NUMERIC = frozenset(DEFAULT_FEATURES)
LOG_FEATURES = frozenset(DEFAULT_FEATURES) - {"mean_scroll_depth", "click_through", "engagement"}
MINIBATCH_ABOVE = 100_000  # rows; beyond this full KMeans is too slow for little gain
UNASSIGNED = -1
METHODS = ("kmeans", "minibatch_kmeans", "dbscan", "agglomerative")


class SegmentationWarning(UserWarning):
    """Segmentation went ahead, but not quite as asked (sampled data, no segment found)."""


def _bad(param: str, expected: str, got: Any) -> ConfigError:
    return ConfigError(
        f"The {param!r} parameter of Segmenter must be {expected}. Got {got!r} instead."
    )


def _is_int(value: Any, low: int, high: float = math.inf) -> bool:
    return (
        isinstance(value, numbers.Integral) and not isinstance(value, bool) and low <= value <= high
    )


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, numbers.Real) and math.isfinite(value) else 0.0


class _Reader:
    """Reads one row of numbers out of a feature dict; picklable, with no per-call parsing."""

    __slots__ = ("fields",)

    def __init__(self, names: Sequence[str]) -> None:
        self.fields = tuple((kind, key) for kind, _, key in (_split(n) for n in names))

    def row(self, user: Mapping[str, Any]) -> list[float]:
        out = []
        for kind, key in self.fields:
            if kind == "device":
                value = (user.get("device_mix") or {}).get(key)
            elif kind == "category":
                value = key in (user.get("top_categories") or ())
            elif key == "tenure_days":
                value = (_number(user.get("last_seen")) - _number(user.get("first_seen"))) / 86_400
            else:
                value = user.get(key)
            out.append(_number(value))
        return out


def _split(name: str) -> tuple[str, str, str]:
    kind, sep, key = name.partition(":")
    return (kind, sep, key) if sep and kind in ("device", "category") else ("", "", name)


@dataclass(slots=True)
class _Nearest:
    """What assignment needs, precomputed: log mask, scaling, and the points to compare with
    (centroids, or DBSCAN's core points with radius eps)."""

    reader: _Reader
    log: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    points: np.ndarray
    sq_norms: np.ndarray
    point_labels: np.ndarray
    radius: float  # inf for centroids

    def scaled(self, raw: np.ndarray) -> np.ndarray:
        x = np.array(raw, dtype=float)
        x[..., self.log] = np.log1p(np.clip(x[..., self.log], 0.0, None))
        return (x - self.mean) / self.scale

    def one(self, user: Mapping[str, Any]) -> int:
        if not len(self.points):
            return UNASSIGNED
        z = self.scaled(self.reader.row(user))
        squared = self.sq_norms - 2.0 * (self.points @ z) + z @ z
        i = int(np.argmin(squared))
        return int(self.point_labels[i]) if squared[i] <= self.radius**2 + 1e-9 else UNASSIGNED

    def many(self, raw: np.ndarray) -> np.ndarray:
        if not len(self.points):
            return np.full(len(raw), UNASSIGNED)
        index, distance = pairwise_distances_argmin_min(self.scaled(raw), self.points)
        return np.where(distance <= self.radius + 1e-9, self.point_labels[index], UNASSIGNED)


class Segmenter(ClusterMixin, BaseEstimator):
    """Group users into readable segments; `k="auto"` picks the count by silhouette.

    `method`: "kmeans" (MiniBatchKMeans past `MINIBATCH_ABOVE` rows), "minibatch_kmeans",
    "agglomerative" (Ward; fitted on `sample_size` rows when there are more, as it needs
    O(n²) memory) or "dbscan" (segments of any shape; users in no dense region get -1).
    `k_range` is inclusive. `names` overrides generated names: {label: name}.
    """

    def __init__(
        self,
        *,
        method: str = "kmeans",
        k: int | str = "auto",
        k_range: tuple[int, int] = (2, 8),
        eps: float | str = "auto",
        min_samples: int = 5,
        features: Sequence[str] | None = None,
        sample_size: int = 10_000,
        random_state: int | None = 0,
        names: Mapping[int, str] | None = None,
    ) -> None:
        self.method = method
        self.k = k
        self.k_range = k_range
        self.eps = eps
        self.min_samples = min_samples
        self.features = features
        self.sample_size = sample_size
        self.random_state = random_state
        self.names = names

    def _check_params(self) -> None:
        # every check is safe on any value, so they read as one table
        k_range, eps, features, names = self.k_range, self.eps, self.features, self.names
        rules = (
            ("method", self.method in METHODS, f"a str among {{{', '.join(map(repr, METHODS))}}}"),
            ("k", self.k == "auto" or _is_int(self.k, 2, 100), "an int in [2, 100] or 'auto'"),
            (
                "k_range",
                isinstance(k_range, Sequence) and len(k_range) == 2
                and all(_is_int(v, 2, 100) for v in k_range) and k_range[0] <= k_range[1],
                "a pair (low, high) of ints with 2 <= low <= high <= 100",
            ),
            (
                "eps",
                eps == "auto" or (_is_real(eps) and 0 < eps < math.inf),
                "a float in (0, inf) or 'auto'",
            ),
            ("min_samples", _is_int(self.min_samples, 1), "an int in [1, inf)"),
            (
                "features",
                features is None or (
                    isinstance(features, Sequence) and not isinstance(features, str)
                    and len(features) > 0
                    and all(isinstance(f, str) and f for f in features)
                    and len(set(features)) == len(features)
                ),
                "a non-empty list of distinct feature names or None",
            ),
            ("sample_size", _is_int(self.sample_size, 10), "an int in [10, inf)"),
            (
                "random_state",
                self.random_state is None or _is_int(self.random_state, 0, 2**32 - 1),
                "an int in [0, 2**32 - 1] or None",
            ),
            (
                "names",
                names is None or (
                    isinstance(names, Mapping)
                    and all(_is_int(k, -1) and isinstance(v, str) and v for k, v in names.items())
                    and len(set(names.values())) == len(names)
                ),
                "a dict of {segment label: distinct non-empty name} or None",
            ),
        )  # fmt: skip
        for param, ok, expected in rules:
            if not ok:
                raise _bad(param, expected, getattr(self, param))

    def fit(self, X: Any, y: Any = None) -> Segmenter:
        """Learn the scaling, the segments, their names and profiles; returns self."""
        self._check_params()
        names, raw, mobile = self._read_fit(X)
        if len(raw) < 3:
            raise DataError(f"Segmenting needs at least 3 users; got {len(raw)}.")
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        log = np.array([n in LOG_FEATURES for n in names], dtype=bool)
        logged = raw.copy()
        logged[:, log] = np.log1p(np.clip(logged[:, log], 0.0, None))
        self.scaler_ = StandardScaler().fit(logged)
        scaled = self.scaler_.transform(logged)
        big = self.method == "kmeans" and len(raw) > MINIBATCH_ABOVE
        self.method_ = "minibatch_kmeans" if big else self.method
        if self.method_ == "dbscan":
            labels, points, point_labels, radius = self._fit_dbscan(scaled)
        else:
            labels, points = self._fit_partition(scaled)
            point_labels, radius = np.arange(len(points)), math.inf
        self.labels_ = labels
        self.n_clusters_ = len(self.cluster_centers_)
        mean, scale = self.scaler_.mean_, self.scaler_.scale_
        squared = np.einsum("ij,ij->i", points, points)
        self._nearest = _Nearest(
            _Reader(names), log, mean, scale, points, squared, point_labels, radius
        )
        self._name(names, raw, scaled, mobile)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The segment of each user: the nearest centroid, or for DBSCAN the nearest core
        point's segment when within eps, else -1 (unassigned)."""
        check_is_fitted(self)
        return self._nearest.many(self._read_predict(X))

    def assign_one(self, features: Mapping[str, Any]) -> tuple[int, str]:
        """(label, name) of one user's feature dict; plain numpy, for use per request."""
        nearest = getattr(self, "_nearest", None)
        if nearest is None:
            check_is_fitted(self)  # raises NotFittedError
        label = nearest.one(features)
        return label, self.names_[label]

    def _fit_partition(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(scaled)
        low, high = self.k_range
        ks = list(range(low, min(high, n - 1) + 1)) if self.k == "auto" else [int(self.k)]
        if not ks or ks[-1] >= n:
            raise DataError(
                f"Cannot make {ks[-1] if ks else low} segments of {n} users; "
                "lower 'k' or 'k_range', or pass more users."
            )
        fit = self._ward(scaled) if self.method_ == "agglomerative" else self._kmeans(scaled)
        self.selection_, (labels, centers) = selection.search(
            scaled, "k", ks, fit, sample_size=self.sample_size, random_state=self.random_state
        )
        order = np.argsort(-np.bincount(labels, minlength=len(centers)), kind="stable")
        self.cluster_centers_ = centers[order]
        return np.argsort(order)[labels], self.cluster_centers_

    def _kmeans(self, scaled: np.ndarray):
        def fit(k: int) -> tuple[np.ndarray, np.ndarray]:
            if self.method_ == "minibatch_kmeans":
                model = MiniBatchKMeans(
                    k, n_init=3, batch_size=4096, random_state=self.random_state
                )
            else:
                model = KMeans(k, n_init=4, random_state=self.random_state)
            model.fit(scaled)
            return model.labels_, model.cluster_centers_

        return fit

    def _ward(self, scaled: np.ndarray):
        """One Ward tree, cut at each k: far cheaper than refitting per candidate."""
        from scipy.cluster.hierarchy import fcluster, linkage

        n, rows = len(scaled), None
        if n > self.sample_size:
            warnings.warn(
                f"Agglomerative segmentation was fitted on a random {self.sample_size} of {n} "
                "users (Ward needs O(n²) memory); the rest join their nearest segment. "
                "Raise 'sample_size' to use more.",
                SegmentationWarning,
                stacklevel=4,
            )
            rows = np.random.default_rng(self.random_state).choice(
                n, self.sample_size, replace=False
            )
        sample = scaled if rows is None else scaled[rows]
        tree = linkage(sample, method="ward")

        def fit(k: int) -> tuple[np.ndarray, np.ndarray]:
            _, cut = np.unique(fcluster(tree, k, criterion="maxclust"), return_inverse=True)
            centers = np.array([sample[cut == c].mean(axis=0) for c in range(cut.max() + 1)])
            if rows is None:
                return cut, centers
            labels, _ = pairwise_distances_argmin_min(scaled, centers)
            labels[rows] = cut
            return labels, centers

        return fit

    def _fit_dbscan(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        if self.eps == "auto":
            radii = selection.eps_candidates(
                scaled,
                self.min_samples,
                sample_size=self.sample_size,
                random_state=self.random_state,
            )
            if not radii:
                raise DataError(
                    f"Most users have {self.min_samples - 1} others with identical features, "
                    "so no eps can be chosen; pass eps explicitly."
                )
        else:
            radii = [float(self.eps)]

        def fit(eps: float) -> tuple[np.ndarray, np.ndarray]:
            model = DBSCAN(eps=eps, min_samples=self.min_samples).fit(scaled)
            return model.labels_, model.core_sample_indices_

        self.selection_, (labels, core) = selection.search(
            scaled, "eps", radii, fit, sample_size=self.sample_size, random_state=self.random_state
        )
        self.eps_ = next(row["eps"] for row in self.selection_ if row["chosen"])
        sizes = np.bincount(labels[labels >= 0], minlength=1)
        order = np.argsort(-sizes, kind="stable")[: int((sizes > 0).sum())]
        relabel = np.append(np.argsort(order), UNASSIGNED)  # index -1 maps noise to itself
        labels = relabel[labels]
        self.cluster_centers_ = np.array(
            [scaled[labels == c].mean(axis=0) for c in range(len(order))]
        ).reshape(-1, scaled.shape[1])
        if not len(order):
            warnings.warn(
                f"DBSCAN found no segment (eps={self.eps_:.3g}, min_samples={self.min_samples}); "
                "every user is unassigned. Raise eps or lower min_samples.",
                SegmentationWarning,
                stacklevel=3,
            )
        return labels, scaled[core], labels[core], self.eps_

    def _name(
        self, features: list[str], raw: np.ndarray, scaled: np.ndarray, mobile: np.ndarray | None
    ) -> None:
        spread = scaled.std(axis=0)
        z = (self.cluster_centers_ - scaled.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        overrides = dict(self.names or {})
        shares = (
            None
            if mobile is None
            else [float(mobile[self.labels_ == c].mean()) for c in range(self.n_clusters_)]
        )
        names = name_segments(
            z,
            features,
            mobile_share=shares,
            overall_mobile_share=0.0 if mobile is None else float(mobile.mean()),
            overrides={k: v for k, v in overrides.items() if k >= 0},
        )
        self.names_ = dict(enumerate(names))
        descriptions = {c: describe(z[c], features) for c in range(self.n_clusters_)}
        if self.method_ == "dbscan":
            self.names_[UNASSIGNED] = overrides.get(UNASSIGNED, "unassigned")
            descriptions[UNASSIGNED] = "in no dense region: not within eps of any segment's core"
        if unknown := sorted(set(overrides) - set(self.names_)):
            warnings.warn(
                f"'names' has labels {unknown} that no segment has; they were ignored.",
                SegmentationWarning,
                stacklevel=3,
            )
        self.profiles_ = segment_profiles(
            raw, self.labels_, features, self.names_, descriptions, mobile
        )

    def _read_fit(self, X: Any) -> tuple[list[str], np.ndarray, np.ndarray | None]:
        if _is_records(X):
            names = list(self.features or DEFAULT_FEATURES)
            if unknown := [n for n in names if _split(n)[0] == "" and n not in _NUMERIC]:
                raise _bad(
                    "features",
                    f"names among {sorted(_NUMERIC)}, 'device:<type>' or 'category:<name>'",
                    unknown,
                )
            reader = _Reader(names)
            raw = np.array([reader.row(user) for user in X], dtype=float).reshape(
                len(X), len(names)
            )
            mobile = np.array([_number((u.get("device_mix") or {}).get("mobile")) for u in X])
            return names, raw, mobile
        columns = getattr(X, "columns", None)
        raw = _matrix(X)
        if columns is not None:
            names = [str(c) for c in columns]
            if self.features is not None:
                missing = [f for f in self.features if f not in names]
                if missing:
                    raise _bad("features", f"a list of columns of X {names}", list(self.features))
                raw, names = raw[:, [names.index(f) for f in self.features]], list(self.features)
        elif self.features is not None:
            if len(self.features) != raw.shape[1]:
                raise _bad(
                    "features",
                    f"a list of {raw.shape[1]} names, one per column of X",
                    list(self.features),
                )
            names = list(self.features)
        else:
            names = [f"x{j}" for j in range(raw.shape[1])]
        mobile = raw[:, names.index("device:mobile")] if "device:mobile" in names else None
        return names, raw, mobile

    def _read_predict(self, X: Any) -> np.ndarray:
        names = list(self.feature_names_in_)
        if isinstance(X, Mapping):
            raise DataError(
                "predict takes a list of feature dicts; for one user call assign_one(features)."
            )
        if _is_records(X):
            return np.array([self._nearest.reader.row(user) for user in X], dtype=float).reshape(
                len(X), len(names)
            )
        raw = _matrix(X)
        columns = getattr(X, "columns", None)
        if columns is not None:
            columns = [str(c) for c in columns]
            if missing := [n for n in names if n not in columns]:
                raise DataError(f"X lacks the columns {missing} that Segmenter was fitted with.")
            return raw[:, [columns.index(n) for n in names]]
        if raw.shape[1] != len(names):
            raise DataError(
                f"X has {raw.shape[1]} features, but Segmenter was fitted with "
                f"{len(names)}: {names}."
            )
        return raw


def _is_records(X: Any) -> bool:
    return (
        isinstance(X, Sequence)
        and not isinstance(X, str)
        and len(X) > 0
        and isinstance(X[0], Mapping)
    )


def _matrix(X: Any) -> np.ndarray:
    try:
        raw = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"X must be a list of feature dicts or a 2-D array of numbers: {exc}"
        ) from exc
    if raw.ndim != 2 or raw.shape[0] == 0:
        raise DataError(
            "X must be a non-empty list of feature dicts or a 2-D array of numbers; "
            f"got shape {raw.shape}."
        )
    if not np.isfinite(raw).all():
        raise DataError("X contains NaN or infinite values; fill or drop them before segmenting.")
    return raw
